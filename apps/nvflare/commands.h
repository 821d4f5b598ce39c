// The `nvflare` command tree. Each register_<group>_command adds one subcommand group to the CLI11
// app: options parse into a struct, the callback makes one library call and stores its exit code
// in the context. No logic that a test or another command needs lives in these files.
#pragma once

#include <CLI/CLI.hpp>

#include <filesystem>
#include <string>

#include "base/status.h"

namespace nvf::app {

/// Exit codes shared by every command (documented in man/nvflare.1).
enum ExitCode : int {
  kExitOk = 0,
  kExitError = 1,          // the command ran and failed
  kExitUsage = 2,          // bad flags or arguments (as argparse)
  kExitNotAvailable = 3,   // the command exists but is not part of this build yet
  kExitInterrupted = 130,  // Ctrl-C
};

struct AppContext {
  int exit_code = kExitOk;
  int verbose = 0;
};

/// Prints "Error: <message>" to stderr and returns kExitError (OK → kExitOk).
int report(const Status& status);

void register_job_command(CLI::App& app, AppContext& ctx);
void register_config_command(CLI::App& app, AppContext& ctx);
void register_timeouts_command(CLI::App& app, AppContext& ctx);
void register_simulator_command(CLI::App& app, AppContext& ctx);
void register_train_command(CLI::App& app, AppContext& ctx);
void register_provision_command(CLI::App& app, AppContext& ctx);
/// nvflare poc: prepare and clean; start, stop and prepare-jobs-dir are not in this build yet.
void register_poc_command(CLI::App& app, AppContext& ctx);
/// nvflare preflight_check -p KIT_DIR: the checks of a startup kit; exit 1 when one FAILED.
void register_preflight_command(CLI::App& app, AppContext& ctx);
/// nvflare authz_preview -p authorization.json: FLARE's interactive evaluator of a policy.
void register_authz_preview_command(CLI::App& app, AppContext& ctx);
/// nvflare server / client / relay (the daemons of a startup kit) and the hidden job processes.
void register_daemon_commands(CLI::App& app, AppContext& ctx);
/// nvflare admin (the interactive console, or one command with -c) and `nvflare job submit` (added
/// to the job group).
void register_admin_command(CLI::App& app, AppContext& ctx);
void register_job_submit(CLI::App* job, AppContext& ctx);
/// nvflare recipe {list, show, export, run}.
void register_recipe_command(CLI::App& app, AppContext& ctx);
/// Validates and submits a job folder with an admin kit (`kit_dir`, or the configured one), waits
/// for its end (0: no limit), prints "Job Status is: ..." and downloads the result into
/// `result_dir`, printing where. 0 when the job ended FINISHED:COMPLETED.
int submit_and_follow(const std::string& job_folder, const std::string& kit_dir, double timeout_s,
                      const std::filesystem::path& result_dir);

}  // namespace nvf::app
