// Startup-kit files a site's operator may edit or receive damaged: a relay's fed_relay.json and
// local/comm_config.json, a client's fed_client.json and local/relay__resources.json. The input
// is written into a scratch kit and loaded as the daemons load it.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "runtime/startup_kit.h"

namespace {

namespace fs = std::filesystem;

const fs::path& scratch() {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("nvf_fuzz_kits_" + std::to_string(::getpid()));
    fs::create_directories(d / "startup");
    fs::create_directories(d / "local");
    return d;
  }();
  return dir;
}

void write(const fs::path& p, std::string_view text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
}

}  // namespace

// Input: one selector byte, then two files separated by the first NUL byte.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t nul = rest.find('\0');
  const std::string_view first = rest.substr(0, nul);
  const std::string_view second = nul == std::string_view::npos ? std::string_view() : rest.substr(nul + 1);
  const fs::path& kit = scratch();
  if (data[0] % 2 == 0) {
    write(kit / "startup" / "fed_relay.json", first);
    write(kit / "local" / "comm_config.json", second);
    auto r = nvf::runtime::load_relay_kit(kit, "fed_relay.json");
    if (r.ok()) (void)nvf::runtime::relay_depth(*r);
  } else {
    write(kit / "startup" / "fed_client.json", first);
    write(kit / "local" / "relay__resources.json", second);
    (void)nvf::runtime::load_client_kit(kit, "fed_client.json");
  }
  return 0;
}
