// Admin command lines: the shell-style splitting the server applies to every command before
// its table looks the command up (lib/runtime/admin_service.cc).
#include <cstddef>
#include <cstdint>
#include <string>

#include "base/strings.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string line(reinterpret_cast<const char*>(data), size);
  (void)nvf::base::shell_split(line);
  return 0;
}
