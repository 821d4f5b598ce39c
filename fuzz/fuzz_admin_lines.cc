// Admin command lines: the shell-style splitting the server applies to every command and the
// console's split of a typed line.
#include <cstddef>
#include <cstdint>
#include <string>

#include "base/strings.h"
#include "tools/line_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string line(reinterpret_cast<const char*>(data), size);
  (void)nvf::base::shell_split(line);
  (void)nvf::tools::split_command_line(line);
  return 0;
}
