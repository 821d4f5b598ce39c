// ClientJobEngine: the client job (FLARE's CJ) — pulls tasks from the server job, runs each with
// the executor configured for its name, submits the result, and sends job heartbeats. get_task
// is a long poll the server answers as soon as a task exists; there is no polling interval.
//
// Ownership: owned by the process role that runs the job (the simulator or a client job
// process), with a Cell and executors owned by the same role; both must outlive the engine.
// Threads: run() blocks the caller (the task thread); abort() may be called from any thread.
// The engine owns its heartbeat thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "cellnet/cell.h"
#include "cellnet/download_service.h"
#include "fl/executor.h"

namespace nvf::runtime {

/// What the runtime's own executors (the launcher) get beyond fl::ExecutorContext: the client
/// job's cell and the listener its trainer connects to. Native executors never need it.
struct ClientJobContext : fl::ExecutorContext {
  cellnet::Cell* cell = nullptr;
  std::string child_url;  // where the cell listens for its children (the trainer)
  std::string server_job_fqcn;  // set by the engine from ClientJobOptions
};

struct ClientJobOptions {
  std::string server_job_fqcn;  // "server.<job id>"
  std::chrono::milliseconds get_task_timeout{60000};        // one long poll, end to end
  std::chrono::milliseconds submit_task_result_timeout{300000};  // covers the server's pull
  std::chrono::milliseconds job_heartbeat_interval{10000};
  std::chrono::milliseconds retry_interval{500};  // after a failed get_task (default_task_fetch_interval)
  /// Before the server job's first answer, a failed get_task is retried after this wait, doubled
  /// each time up to retry_interval: the client jobs start before their server job (which needs
  /// to know which of them started), so the first get_task may arrive before the server job has
  /// connected, and the first task should not wait a whole retry_interval for that.
  std::chrono::milliseconds first_contact_retry{20};
  int submit_attempts = 3;
  /// With no answer from the server job for this long (from the start, or since its last answer)
  /// the run ends with UNAVAILABLE: the job was aborted or has ended (max_runner_sync_timeout).
  std::chrono::milliseconds server_lost_timeout{60000};
};

class ClientJobEngine {
 public:
  /// `executors` maps task names (or "*") to executors.
  ClientJobEngine(ClientJobContext context, ClientJobOptions options,
                  std::map<std::string, fl::Executor*> executors);
  ~ClientJobEngine();

  /// Runs tasks until the server ends the run or abort(). Errors: an executor's initialize()
  /// error, CANCELLED on abort.
  Status run();
  void abort(const std::string& reason);
  int tasks_done() const { return tasks_done_.load(); }
  /// The task being executed now (none between tasks): what show_stats reports. Any thread.
  std::vector<std::string> current_tasks();

 private:
  fl::Executor* executor_for(const std::string& task_name) const;
  Status submit(cellnet::Message result);
  // Runs one task message with its executor: decodes it into an fl::Task, executes it with a
  // TaskIO over this job's cell, and encodes the result (or the error) as the result message.
  cellnet::Message execute(fl::Executor* ex, const std::string& name, const cellnet::Message& task);
  class CellTaskIO;
  void handle_aux(const cellnet::Message& request, cellnet::Responder respond);
  void run_heartbeats();
  bool wait_or_abort(std::chrono::milliseconds d);
  // A request to the server job that abort() ends at once (CANCELLED) instead of waiting out a
  // long poll or an upload; a reply arriving later is dropped.
  Result<cellnet::Message> request_abortable(const std::string& topic, cellnet::Message m,
                                             std::chrono::milliseconds timeout);
  struct Pending;  // one request_abortable() in flight

  ClientJobContext ctx_;
  std::unique_ptr<cellnet::DownloadService> downloads_;  // results a native executor publishes
  ClientJobOptions opt_;
  std::map<std::string, fl::Executor*> executors_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string abort_reason_;  // guarded by mu_
  bool done_ = false;         // guarded by mu_
  std::string current_task_;  // guarded by mu_
  std::set<std::shared_ptr<Pending>> pending_;  // guarded by mu_: woken by abort()
  std::atomic<int> tasks_done_{0};
  std::thread heartbeat_;
  // The cell outlives this engine: the aux handler registered in run() passes this gate, which
  // the destructor closes.
  cellnet::HandlerGate gate_{"the client job engine has stopped"};
};

}  // namespace nvf::runtime
