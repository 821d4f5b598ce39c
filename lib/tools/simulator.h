// The simulator (`nvflare simulator JOB_FOLDER`): the server and N clients of one job in this
// process, over the in-process driver, with the same engines, controllers and executors as a
// deployment; trainers are real processes connected over Unix sockets. It lays out the workspace
// as FLARE does (WS/server/simulate_job/app_server, WS/site-N/simulate_job/app_site-N, a log per
// site), prints a progress line per round and a summary.
//
// Nothing is lost by accident: an existing workspace is reused only when it carries the
// simulator's marker file; anything else is refused.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"

namespace nvf::tools {

struct SimulatorOptions {
  std::filesystem::path job_folder;
  std::filesystem::path workspace;  // empty: ./simulator_workspace (with a warning)
  int n_clients = 0;                // -n
  std::vector<std::string> clients;  // -c
  int threads = 0;                  // -t: trainers working at once (0: 1)
  std::string log_config;           // -l: concise | full | verbose | a level name
  int max_clients = 100;            // -m
  /// --relays: the clients connect through this many in-process relays (relay-1..relay-N, each
  /// with its download cache; clients are spread over them in turn), as on a deployment with
  /// relays; 0: straight to the server.
  int relays = 0;
  std::string nvflare_bin;          // the binary trainers run as {NVFLARE_BIN}
  std::function<void(const std::string&)> print;  // progress and summary lines (stdout)
  std::function<void(const std::string&)> warn;   // warnings (stderr)
};

/// Exit codes (FLARE's where it has them; docs/user-guide.md).
enum SimulatorExit : int {
  kSimOk = 0,
  kSimSetupFailed = 1,   // bad job, bad options, workspace refused
  kSimRunFailed = 2,     // the job ran and failed (a workflow error, below min_clients, ...)
  kSimInterrupted = 130, // Ctrl-C / SIGTERM: every trainer stopped
};

/// The marker file that makes a workspace the simulator's.
inline constexpr const char* kSimulatorMarker = ".nvflare_simulator_workspace";

/// Runs the job; returns the exit code. Setup errors are printed through `warn`.
int run_simulator(const SimulatorOptions& options);

/// Client names: -c → -n → the deploy_map's sites → site-1, site-2. Errors: INVALID_ARGUMENT.
Result<std::vector<std::string>> resolve_client_names(const SimulatorOptions& options,
                                                      const std::vector<std::string>& deploy_map_sites,
                                                      std::string* warning);

/// Prepares the workspace: refuses a folder without the marker; keeps startup/ and local/.
Status prepare_workspace(const std::filesystem::path& workspace);

}  // namespace nvf::tools
