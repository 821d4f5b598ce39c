// `nvflare poc prepare` and `nvflare poc clean`: a local proof-of-concept workspace holding one
// provisioned project (server `server`, clients site-1..N, admin admin@nvidia.com) in POC mode.
// The workspace carries a marker file so that only folders this tool created are ever deleted.
#pragma once

#include <filesystem>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "tools/user_config.h"

namespace nvf::tools {

/// The marker file written into every POC workspace this tool creates.
inline constexpr const char* kPocMarker = ".nvflare_poc_workspace";

/// FLARE's default POC workspace.
inline constexpr const char* kDefaultPocWorkspace = "/tmp/nvflare/poc";

/// The POC workspace: env NVFLARE_POC_WORKSPACE → config poc_workspace.path → /tmp/nvflare/poc
/// (made absolute).
std::filesystem::path poc_workspace(const UserConfig& config);

/// FLARE's POC project.yml text: server `server` (default_host localhost, ports 8002/8003),
/// the given clients (org nvidia), admin admin@nvidia.com (project_admin).
std::string poc_project_yml(const std::vector<std::string>& clients);

struct PocPrepareOptions {
  std::filesystem::path workspace;
  int number_of_clients = 2;          // -n
  std::vector<std::string> clients;   // -c (overrides -n)
  std::filesystem::path project_input;  // -i (overrides -n/-c)
  std::string nvflare_bin;            // as ProvisionOptions::nvflare_bin
  std::filesystem::path user_config;  // where startup_kit/poc_workspace are saved (empty: not saved)
  /// Asked before an existing POC workspace is deleted; true means proceed.
  std::function<bool(const std::string& prompt)> confirm;
  std::function<void(const std::string&)> print;
  std::function<void(const std::string&)> warn;
};

/// Prepares the workspace. Returns the prod_00 folder, or nullopt when the user declined to
/// replace an existing workspace (left untouched). Errors: FAILED_PRECONDITION for an existing
/// folder without the POC marker (never deleted), INVALID_ARGUMENT for bad options or project,
/// provisioning and file-system errors.
Result<std::optional<std::filesystem::path>> poc_prepare(const PocPrepareOptions& options);

/// One participant of the POC project (from its project.yml), in start order.
struct PocParticipant {
  std::string name, type;  // type: server | client | admin | relay
  std::filesystem::path dir;  // its startup kit in prod_00
  size_t depth = 0;           // relays: the number of relays above it
  int listen_port = 0;        // relays: where their children connect
};

/// Errors (FLARE's messages): "<ws>/project.yml is missing, make sure you have first run 'nvflare
/// poc prepare'", "workspace <ws> is not ready, please use poc prepare to prepare poc workspace".
Result<std::vector<PocParticipant>> poc_participants(const std::filesystem::path& workspace);

struct PocServiceOptions {
  std::filesystem::path workspace;
  std::string only;     // -p: one participant
  std::string exclude;  // -ex: all but one
  std::string nvflare_bin;  // exported as NVFLARE_BIN to the kits' scripts
  std::chrono::milliseconds grace{30000};  // poc stop: how long processes get to exit
  /// poc start: runs the admin console with an admin kit once the server and clients run (null:
  /// the admin is not started).
  std::function<Status(const std::filesystem::path& admin_kit)> console;
  std::function<void(const std::string&)> print;
  std::function<void(const std::string&)> warn;
};

/// Starts the server, then the relays (parents first), then the clients, each by its kit's start.sh (a watchdog that writes
/// daemon_pid.fl and pid.fl), in its own session with output in <kit>/log_console.txt, and returns
/// once the server accepts connections. Then, unless the admin is excluded (`-ex admin@nvidia.com`)
/// or another participant was chosen (`-p`), it ends in the admin console of the project admin
/// (FLARE's POC), through `console`.
Status poc_start(const PocServiceOptions& options);

/// Stops clients, then relays (children first), then the server: writes shutdown.fl, sends SIGTERM to the daemon (it stops its
/// jobs), waits up to `grace` for the daemon and its watchdog to exit, then kills what is left.
Status poc_stop(const PocServiceOptions& options);

/// `poc prepare-jobs-dir -j DIR`: makes the project admin's upload folder (its kit's transfer/)
/// a symbolic link to `jobs_dir`, so that console commands such as `submit_job hello-pt` find the
/// jobs there. A transfer/ that holds files is replaced only when `confirm` says so (an answer
/// other than y leaves it as it is). Errors: the POC workspace is not prepared, `jobs_dir` is not
/// a folder.
Status poc_prepare_jobs_dir(const std::filesystem::path& workspace, const std::filesystem::path& jobs_dir,
                            const std::function<bool(const std::string& prompt)>& confirm,
                            const std::function<void(const std::string&)>& print);

/// Removes the workspace. Errors: FAILED_PRECONDITION when the system is running (a server
/// pid.fl exists), when the folder lacks the POC marker, or when there is no workspace.
Status poc_clean(const std::filesystem::path& workspace,
                 const std::function<void(const std::string&)>& print);

}  // namespace nvf::tools
