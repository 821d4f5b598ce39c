// WorkspaceShell: the admin console's read-only "shell" commands (pwd, ls, cat, head, tail, grep)
// run natively — no shell, no subprocess — in a site's workspace root, as FLARE's server runs
// them (spec cli-and-formats §5.2). Arguments are checked as FLARE's validators check them (the
// same flags, the same messages: "absolute path is not allowed", ".. in path name is not
// allowed", text files only for cat/head/tail/grep); then every path is canonicalized and must
// stay inside the canonical workspace root, component by component, so a symbolic link cannot
// lead out of it. Output is GNU coreutils' for the same flags in the C locale (names sorted byte
// by byte), with the trailing newline removed as FLARE's subprocess.getoutput removes it.
//
// A WorkspaceShell is an immutable value: any thread may call its const methods.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace nvf::runtime {

/// One checked command: what parse() returns and run() executes.
struct ShellCommand {
  std::string name;          // pwd | ls | cat | head | tail | grep
  std::vector<char> flags;   // boolean flags in the order given (a l t S R u / n b s T / n i b)
  std::string count_flag;    // head/tail: "c" or "n" (the last one given); empty: -n 10
  std::string count = "10";  // head/tail: the number as typed ("5", "-5", "+5")
  std::string pattern;       // grep
  std::vector<std::string> files;  // workspace-relative paths as typed

  bool has(char flag) const;
};

class WorkspaceShell {
 public:
  /// `root`: the workspace root (the site's kit folder); it must exist when commands run.
  explicit WorkspaceShell(std::filesystem::path root);

  /// True for the six command names.
  static bool is_shell_command(const std::string& name);
  /// FLARE's usage text for `name` ("ls target [options] [files]\n where target is ...").
  static std::string usage(const std::string& name);

  /// Checks `argv` (the command name and its arguments, without the target) as FLARE does.
  /// Errors: INVALID_ARGUMENT with FLARE's message ("unrecognized arguments: -x", "only one file
  /// is allowed", ".. in path name is not allowed", ...).
  static Result<ShellCommand> parse(const std::vector<std::string>& argv);
  /// The order the server sends a client to run `argv` there: a JSON array of strings.
  static std::string order(const std::vector<std::string>& argv);
  /// parse() of an order from a peer. Errors: INVALID_ARGUMENT ("bad shell command order: ...")
  /// for anything but a JSON array of strings naming a shell command, then parse()'s.
  static Result<ShellCommand> parse_order(std::string_view order);

  /// Runs a parsed command. The text is what the command printed (its own "No such file"
  /// messages included). Errors: PERMISSION_DENIED when a path leaves the workspace (through a
  /// symbolic link), INVALID_ARGUMENT for a path parse() would refuse, NOT_FOUND when the root
  /// is missing.
  Result<std::string> run(const ShellCommand& command) const;

  /// The path guard: `relative` (as typed; "" is the root) → its canonical path inside the
  /// canonical root. A path that does not exist resolves as far as it exists. Errors:
  /// INVALID_ARGUMENT for an absolute path or a ".." component, PERMISSION_DENIED when the
  /// canonical path is not inside the canonical root.
  Result<std::filesystem::path> resolve(const std::string& relative) const;

  const std::filesystem::path& root() const { return root_; }

 private:
  std::filesystem::path root_;
};

}  // namespace nvf::runtime
