// Config files: JSON, YAML, TOML and HOCON (the first byte picks the format), then FLARE's {var}
// substitution over the parsed tree, as a site resolves a job config.
#include <cstddef>
#include <cstdint>
#include <string>

#include "config/substitute.h"
#include "config/value.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  namespace c = nvf::config;
  const c::Format formats[] = {c::Format::kJson, c::Format::kYaml, c::Format::kToml, c::Format::kHocon};
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto v = c::parse(text, formats[data[0] % 4], "fuzz");
  if (!v.ok()) return 0;
  c::VarMap vars = {{"SITE_NAME", "site-1"}, {"WORKSPACE", "/ws"}};
  (void)c::resolve_config(*v, vars, c::EnvMap{{"NVF_FUZZ_VAR", "value"}}, "fuzz");
  (void)c::to_pretty_json(*v);
  return 0;
}
