// Admin command lines: the shell-style splitting the server applies to every command before its
// table looks the command up (lib/runtime/admin_service.cc), then the argument parsers that take
// what an admin typed: the workspace shell commands (ls, cat, head, tail, grep and their counts),
// the orders a server parent sends a client parent for them, log-level settings, and the checked
// number parsing every command uses.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/strings.h"
#include "runtime/site_info.h"
#include "runtime/workspace_shell.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string line(reinterpret_cast<const char*>(data), size);
  auto argv = nvf::base::shell_split(line);
  if (argv.ok() && !argv->empty()) {
    if (nvf::runtime::WorkspaceShell::is_shell_command((*argv)[0])) {
      (void)nvf::runtime::WorkspaceShell::parse(*argv);
    }
    if (argv->size() > 1) (void)nvf::runtime::parse_log_config((*argv)[1]);
  }
  (void)nvf::runtime::WorkspaceShell::parse_order(line);
  (void)nvf::base::parse_int(line);
  (void)nvf::base::parse_double(line, -1e300, 1e300);
  return 0;
}
