// LauncherExecutor (FLARE's ClientAPILauncherExecutor + SubprocessLauncher): runs a trainer
// program — any program using the Client API — and relays tasks and results between the server
// job and it by reference. The trainer connects to the client job's cell as its child
// (<site>.<job>.trainer); it asks for a task (get_task), pulls the params straight from the server
// job, trains, offers its result's params from its own cell and sends the result (submit_result);
// the client job forwards the result, and the server job pulls the params from the trainer. The
// client job never holds a model (DESIGN §2, §4.6).
//
// Filters: the client job never holds the params, so it runs no filter. When the site has
// task_data_filters / task_result_filters (ExecutorContext::filter_config), initialize() writes
// them to <run_dir>/client_filters.json and the trainer gets its path in NVFLARE_CLIENT_FILTERS;
// the Client API there builds the chains and runs them on the model it downloads / sends
// (docs/decisions/010-filters-run-where-the-model-is.md).
//
// The trainer command is an argv: a JSON array, or a string split by shell rules without
// expansion (never a shell line), with {NVFLARE_BIN}, {SITE_NAME}, {JOB_ID}, {APP_DIR},
// {WORKSPACE} replaced. Its stdout/stderr go to the site log line by line. A Python command
// (`python3 -u custom/client.py`) runs with the interpreter of the nvflare Python package and the
// package and the app's custom folder on PYTHONPATH (runtime/python_env.h).
//
// Ownership: built from the job config and owned by the client job role. Threads: called by the
// ClientJobEngine's task thread; its handlers run on the cell's pools; it owns one thread per
// running trainer (output) and one waiting for the trainer's exit.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <semaphore>
#include <string>
#include <thread>
#include <vector>

#include "base/process.h"
#include "fl/component_registry.h"
#include "cellnet/cell.h"
#include "fl/executor.h"
#include "runtime/client_job.h"

namespace nvf::runtime {

/// Bounds how many trainers work at once (the simulator's -t); shared by the executors of one
/// process. Thread-safe.
class TrainerSlots {
 public:
  explicit TrainerSlots(int slots) : sem_(slots) {}
  void acquire() { sem_.acquire(); }
  void release() { sem_.release(); }

 private:
  std::counting_semaphore<1 << 20> sem_;
};

struct LauncherOptions {
  std::vector<std::string> command;  // argv before variable substitution
  bool launch_once = true;           // one trainer for the whole job, or one per task
  std::chrono::milliseconds external_pre_init_timeout{300000};  // launch → first get_task
  std::chrono::milliseconds task_wait_timeout{0};               // task → result; 0 = none
  std::chrono::milliseconds shutdown_grace{10000};               // end of run → SIGTERM/SIGKILL
  std::string params_transfer_type = "FULL";                     // FULL | DIFF (the trainer computes DIFF)
  std::string params_exchange_format = "numpy";  // numpy | pytorch | raw: what a Python trainer's params are
  std::chrono::milliseconds submit_result_timeout{300000};       // trainer waits for the ack
  int max_resends = 3;
  std::chrono::milliseconds download_complete_timeout{1800000};  // trainer waits for the server's pull
  int memory_gc_rounds = 0;  // trim the heap after every N-th result (trainer and client job); 0: never
  std::string extra_env;  // "K=V;K2=V2" added to the trainer's environment
  TrainerSlots* slots = nullptr;
};

/// The trainer's environment variable naming the client filter file, and the file's name.
inline constexpr const char* kEnvClientFilters = "NVFLARE_CLIENT_FILTERS";
inline constexpr const char* kClientFiltersFile = "client_filters.json";

/// Parses the command: a JSON array of strings, or a string split by shell rules.
/// Errors: INVALID_ARGUMENT (empty, unterminated quote, not strings).
Result<std::vector<std::string>> parse_command(const std::string& text);

class LauncherExecutor : public fl::Component, public fl::Executor {
 public:
  explicit LauncherExecutor(LauncherOptions options);
  ~LauncherExecutor() override;

  Status initialize(fl::ExecutorContext& ctx) override;
  /// Hands the task to the trainer as it came (its params stay where the server offers them) and
  /// returns the trainer's result as it came (its params stay in the trainer): pass-through.
  Result<fl::TaskResult> execute(const fl::Task& task, fl::TaskIO& io, fl::ExecutorContext& ctx) override;
  void result_submitted(const Status& status) override;
  /// Shares a bound on trainers working at once (set before the job runs).
  void set_slots(TrainerSlots* slots) { opt_.slots = slots; }
  void abort() override;
  void finalize(fl::ExecutorContext& ctx) override;

 private:
  Status launch(ClientJobContext& ctx);
  void stop_trainer(fl::ExecutorContext& ctx);
  void on_get_task(const cellnet::Message& m, cellnet::Responder respond);
  void on_submit(const cellnet::Message& m, cellnet::Responder respond);
  std::string describe_exit_locked() const;

  // The cell outlives this executor: the handlers registered in initialize() pass this gate,
  // which the destructor closes.
  cellnet::HandlerGate gate_{"the client job's launcher has stopped"};
  LauncherOptions opt_;
  base::Logger log_;
  std::string site_;
  std::string filters_file_;  // "" when the site has no filters

  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<base::ChildProcess> child_;      // guarded by mu_ (moved to the waiter on exit)
  pid_t child_pid_ = -1;                         // guarded by mu_
  std::optional<base::ExitInfo> exit_;           // guarded by mu_: the last trainer's exit
  uint64_t generation_ = 0;                      // guarded by mu_: trainers launched
  std::optional<cellnet::Responder> parked_;     // the trainer's pending get_task
  std::optional<cellnet::Message> result_;       // the trainer's result for the current task
  std::optional<cellnet::Responder> result_ack_;  // answered once the server has the result
  std::optional<Status> delivered_;              // how the last result's submit ended
  std::string current_task_id_;                  // guarded by mu_
  std::string accepted_result_id_;               // dedups resends
  bool end_run_ = false;                         // guarded by mu_
  bool one_task_done_ = false;                   // per-task launch: the trainer gets __end_run__ next
  bool aborted_ = false;
  uint64_t results_relayed_ = 0;                 // guarded by mu_
  std::thread output_;
  std::thread waiter_;
};

}  // namespace nvf::runtime
