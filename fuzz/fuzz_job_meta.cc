// A job's meta.json and app configs as a submitted job brings them: FLARE's checks of the meta
// and of config_fed_server / config_fed_client.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "config/value.h"
#include "job/app_config_check.h"
#include "job/job_meta.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace c = nvf::config;
  auto v = c::parse(std::string_view(reinterpret_cast<const char*>(data), size), c::Format::kJson, "meta.json");
  if (!v.ok()) return 0;
  std::vector<nvf::job::Finding> findings;
  nvf::job::FindingSink sink(&findings, "meta.json");
  (void)nvf::job::parse_job_meta(*v, "meta.json", sink);
  nvf::job::check_app_config(*v, nvf::job::AppConfigKind::kServer, sink);
  nvf::job::check_app_config(*v, nvf::job::AppConfigKind::kClient, sink);
  return 0;
}
