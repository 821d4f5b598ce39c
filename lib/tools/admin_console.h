// AdminConsole: FLARE's interactive admin console (`nvflare admin` without -c; spec
// cli-and-formats §5.1). It reads command lines, runs the console's own commands (bye, help / ?,
// lpwd, timeout, info), asks FLARE's confirmations (abort_job: "Are you sure (y/N): "; delete_job,
// remove_client and shutdown: "Confirm with User Name: "), sends the rest to the server through a
// session, prints each reply as FLARE does (admin_output.h) followed by "Done [N usecs]
// <datetime>", and honours FLARE's output redirection (`cmd args >file` also writes the file,
// `>>file` writes only the file) and `# props` (dropped: this server takes none). Failures print
// "Error: <msg>".
//
// Ownership: the caller owns the session, the reader and the stream; the console borrows them.
// Threads: one caller.
#pragma once

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "config/value.h"
#include "runtime/startup_kit.h"
#include "tools/line_reader.h"

namespace nvf::tools {

/// What the console needs from a logged-in session. run_admin_console adapts an AdminClient;
/// tests give a fake.
class AdminConsoleSession {
 public:
  virtual ~AdminConsoleSession() = default;
  /// One command line as `nvflare admin -c` runs it (run_admin_command): the server's reply.
  virtual Result<config::Value> execute(const std::string& line) = 0;
  /// How long a command may take, in seconds; 0 goes back to the default.
  virtual void set_timeout(double seconds) = 0;
  /// Ends the session on the server.
  virtual void logout() = 0;
};

struct AdminConsoleOptions {
  std::string user_name;  // the admin (the certificate's CN); "Confirm with User Name" compares it
  std::filesystem::path upload_dir, download_dir;  // shown by `info`
  std::string prompt = "> ";
  /// A terminal session with no keystroke for this long logs out (resources.json admin.idle_timeout).
  std::chrono::milliseconds idle_timeout{900000};
};

class AdminConsole {
 public:
  AdminConsole(AdminConsoleSession& session, LineReader& input, std::ostream& out,
               AdminConsoleOptions options);

  /// Reads and runs lines until `bye`, the end of input or a shutdown of the server (each logs
  /// out first, except the shutdown). Prints FLARE's intro and prompts when the input is a
  /// terminal. Errors: UNAUTHENTICATED when the server no longer knows the session.
  Status run();

  /// Runs one line as typed. Returns false when the console should end.
  bool handle_line(const std::string& line);

  /// Every command the console knows (for completion), sorted.
  static std::vector<std::string> command_names();

 private:
  void write(const std::string& text);         // stdout (unless `>>file`) and the redirect file
  void write_stdout(const std::string& text);  // stdout only (the Done line)
  void help(const std::string& arg);
  void timeout(const std::string& arg);
  bool run_command(const std::string& line);
  bool confirmed(const std::string& command);

  AdminConsoleSession& session_;
  LineReader& input_;
  std::ostream& out_;
  AdminConsoleOptions options_;
  std::optional<double> timeout_;  // seconds; unset: the session's default
  std::ofstream file_;             // `>file` / `>>file` of the current command
  bool file_only_ = false;
  Status ended_;
};

/// `nvflare admin [-m KIT]`: logs in with the kit ("Trying to login, please wait ...", "Logged into
/// server at HOST:PORT with SSID: ..."), then runs the console on standard input (libedit on a
/// terminal, history in ~/.nvflare/.admin_cli_history). Errors: those of AdminClient::connect,
/// and of AdminConsole::run.
Status run_admin_console(const runtime::AdminKit& kit,
                         const runtime::DriverFactory& external_driver,
                         std::chrono::milliseconds timeout);

}  // namespace nvf::tools
