// Files a user hands to the tools: project.yml (provision, poc prepare -i) and recipe files.
#include <cstddef>
#include <cstdint>
#include <string>

#include "config/value.h"
#include "tools/provision_internal.h"
#include "tools/recipe.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  namespace c = nvf::config;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    auto v = c::parse(text, c::Format::kYaml, "project.yml");
    if (v.ok()) (void)nvf::tools::provision::parse_project(*v, "project.yml", [](const std::string&) {});
  } else {
    auto v = c::parse(text, c::Format::kToml, "recipe.toml");
    if (v.ok()) (void)nvf::tools::check_recipe(*v, "recipe.toml", "/recipes");
  }
  return 0;
}
