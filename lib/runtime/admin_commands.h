// The admin commands of the server as a table: each command is {name, help, right, argument
// check, handler}, and AdminCommandTable::run is the one place where a command is looked up, its
// arguments checked, its job loaded, the admin authorized and the handler called — behind an
// exception barrier, so no command line, however bad, ends the server. Replies are FLARE's JSON
// {"status": ..., "data": [{"type": "string" | "table" | "dict" | "error", ...}]} (the helpers
// below build them).
//
// Threads: the table is built once, then read-only; run() may be called from any thread (the
// handlers guard what they share).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "base/logging.h"
#include "base/status.h"
#include "config/value.h"
#include "runtime/registration.h"

namespace nvf::runtime {

namespace admin {
config::Value reply(const std::string& status, config::Value items);
/// An "ok" reply with one string item (the console prints it).
config::Value ok_string(const std::string& text);
config::Value error_reply(const std::string& status, const std::string& text);
/// A table item: the first row is the header.
config::Value table(std::vector<std::vector<std::string>> rows);
}  // namespace admin

/// What a handler gets: who asks, the command line split, and the job's meta for job commands.
struct AdminCall {
  const Principal& who;
  const std::vector<std::string>& argv;
  const config::Value* job_meta = nullptr;  // job_scoped commands: the meta of argv[1]
};

struct AdminCommand {
  std::string name;
  std::string help;  // one line: usage and what it does
  /// The authorization right the server checks; "" for none (the command needs none, or the
  /// clients it addresses check the admin with their own policies).
  std::string right;
  /// FLARE checks these commands' right before their arguments (check_status, list_jobs, shutdown).
  bool right_before_check = false;
  /// Checks the arguments: an error reply (syntax_error, ...) to stop with, or null to go on.
  std::function<config::Value(const std::vector<std::string>&)> check;
  /// argv[1] names a job: it must exist ("invalid_job_id"), and the right is checked against its
  /// submitter (FLARE's job-scoped rights).
  bool job_scoped = false;
  /// Whether the server checks `right` for this command line (null: always). False when the
  /// command targets clients, which check it themselves (`ls site-1`, `sys_info client`).
  std::function<bool(const std::vector<std::string>&)> server_checks;
  std::function<config::Value(const AdminCall&)> handler;
};

class AdminCommandTable {
 public:
  using Authorizer = std::function<Status(const Principal& who, const std::string& right, const config::Value* job_meta)>;
  using JobMetaLoader = std::function<Result<config::Value>(const std::string& job_id)>;
  AdminCommandTable(Authorizer authorize, JobMetaLoader job_meta, base::Logger logger);

  /// Errors: INVALID_ARGUMENT (no name or handler), ALREADY_EXISTS (the name is taken).
  Status add(AdminCommand command);
  /// Names that are answered elsewhere (submit_job, download_job: their own topics) but listed
  /// as available.
  void also_available(std::vector<std::string> names) { also_ = std::move(names); }

  /// Runs one command line (argv not empty): unknown command → syntax_error listing the available
  /// ones; then the argument check, the job, the right (in FLARE's order for the command) and the
  /// handler. A handler that throws gets an "error" reply naming the command; it is logged.
  config::Value run(const Principal& who, const std::vector<std::string>& argv) const;

  const AdminCommand* find(const std::string& name) const;

 private:
  Authorizer authorize_;
  JobMetaLoader job_meta_;
  base::Logger log_;
  std::vector<AdminCommand> commands_;
  std::map<std::string, size_t> by_name_;
  std::vector<std::string> also_;
};

}  // namespace nvf::runtime
