// ServerJobEngine: the server job (FLARE's SJ) — runs the job's workflows on a controller thread
// and serves the client jobs: get_task long polls (answered as soon as a task exists, DESIGN
// §4.5), submit_update (the result's params are pulled from wherever the result says they are —
// usually the trainer — tensor by tensor into the workflow's ResultSink), job heartbeats, aux
// messages both ways, and the dead-client rule that ends a wait for clients that went silent.
//
// Tasks (the controller API of workflows/controller.h): several may be live at once; a client's
// get_task gets the oldest live task that targets it and that it has not fetched yet. A task ends
// by its rules (every target answered, min_responses + wait, timeout, assignment timeout, dead
// clients), by its handle's cancel(), or by the job's abort; a result being pulled when it ends
// stops at its next tensor, and the handle's wait() returns only once no pull feeds its sink.
//
// Filters (fl/filter.h): when ServerJobOptions::filters is set, a task's data filters (direction
// OUT) run on the task's FLModel before its params are published (one filtered copy serves every
// target), and a task's result filters (direction IN) run on each client's result. Results
// normally stream tensor by tensor into the sink; a result filter needs the whole model, so for a
// task with result filters the engine buffers that client's result (memory: one client result
// per download thread in flight), filters it, then feeds the sink tensor by tensor. Tasks without
// result filters keep streaming.
//
// Ownership: owned by the process role that runs the job (the simulator or a server job
// process); it uses a Cell owned by the same role (the cell must outlive the engine). It owns its
// download service, its download threads and its monitor thread.
// Threads: run() blocks the caller (the controller thread); every other method may be called
// from any thread. Handlers run on the cell's pools and never block them: downloads run on the
// engine's own pool.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/executor.h"
#include "cellnet/cell.h"
#include "cellnet/download_service.h"
#include "cellnet/downloader.h"
#include "workflows/controller.h"
#include "fl/analytics.h"
#include "fl/filter.h"

namespace nvf::runtime {

struct ServerJobOptions {
  std::string job_id;
  std::vector<std::string> clients;  // site names of the job's clients
  std::filesystem::path run_dir;
  std::filesystem::path app_dir;
  base::Logger logger;
  std::chrono::milliseconds get_task_wait{2000};      // a get_task with no task waits this long
  std::chrono::milliseconds dead_client_grace_period{60000};
  std::chrono::milliseconds dead_client_check_lead_time{30000};
  /// A client never seen running the job (slow to start) is not declared dead before this much
  /// time from start() — FLARE 2.7.2's startup grace (max_runner_sync_timeout, the time a
  /// client job has to reach the server job).
  std::chrono::milliseconds startup_grace{60000};
  std::chrono::milliseconds download_idle_timeout{900000};  // tensor_min_download_timeout
  std::chrono::milliseconds end_run_wait{5000};             // end_run_readiness_timeout
  cellnet::DownloadOptions download;  // pulling results
  size_t download_threads = 4;
  std::function<void(const std::string&)> progress;  // progress lines for people
  /// The server app's filter chains (not owned; must outlive the engine). Null: no filters.
  const fl::FilterChains* filters = nullptr;
  /// The server app's analytics receivers (not owned): trainers' metrics go to each.
  std::vector<fl::AnalyticsReceiver*> analytics;
  /// The server app's components told when the run ends (not owned).
  std::vector<fl::EndRunListener*> end_run_listeners;
};

class ServerJobEngine : public fl::ControllerContext {
 public:
  ServerJobEngine(cellnet::Cell& cell, ServerJobOptions options);
  ~ServerJobEngine() override;

  /// Registers the handlers and starts the download service. Errors from the download service.
  Status start();
  /// Runs the workflows in order, then ends the run (later get_task calls get __end_run__) and
  /// waits up to end_run_wait for every client to hear it. Returns the first workflow error.
  Status run(const std::vector<fl::Controller*>& workflows);
  /// The index in run()'s list of the workflow running now; -1 before the first and after the
  /// last (show_stats). Any thread.
  int current_workflow() const { return current_workflow_.load(); }
  /// Makes run() return CANCELLED with `reason` as soon as the current wait notices.
  void abort(const std::string& reason);
  /// `client` has left the federation (its client job is gone): the running task and every later
  /// one stop waiting for it at once (it is in their outcome's `missing`) instead of after the
  /// dead-client rule.
  void client_left(const std::string& client);
  void stop();

  // fl::ControllerContext
  const std::string& job_id() const override { return opt_.job_id; }
  std::vector<std::string> clients() const override { return opt_.clients; }
  Result<std::unique_ptr<fl::TaskHandle>> broadcast(const fl::TaskSpec& task, fl::ResultSink& sink) override;
  std::map<std::string, Result<config::Value>> send_aux(const std::vector<std::string>& targets,
                                                        const std::string& topic, const config::Value& body,
                                                        std::chrono::milliseconds timeout) override;
  void set_aux_handler(const std::string& topic, fl::AuxHandler handler) override;
  bool abort_requested() const override;
  const std::filesystem::path& app_dir() const override { return opt_.app_dir; }
  const std::filesystem::path& run_dir() const override { return opt_.run_dir; }
  base::Logger logger() const override { return log_; }
  void report_progress(const std::string& line) override;

 private:
  struct Parked {
    std::string client;
    cellnet::Responder respond;
    std::chrono::steady_clock::time_point deadline;
  };
  struct ActiveTask {
    std::string id;
    std::string name;
    std::set<std::string> targets, sent, ok, failed;
    std::set<std::string> gone;  // targets that left (client_left) or were never assigned: no result
    cellnet::Slice payload;  // the encoded task, shared by every client without a task of its own
    std::map<std::string, cellnet::Slice> own_payload;  // per-target task data
    std::vector<std::string> tx_ids;                    // the download transactions of its params
    int min_responses = 0;
    std::chrono::milliseconds wait_after_min{0};
    std::chrono::milliseconds assignment_timeout{0};
    std::chrono::steady_clock::time_point created, deadline, min_reached;
    bool has_deadline = false, min_was_reached = false, done = false;
    int in_flight = 0;  // results being pulled into the sink now
    fl::ResultSink* sink = nullptr;
  };
  class Handle;

  void handle_get_task(const cellnet::Message& request, cellnet::Responder respond);
  void handle_submit(const cellnet::Message& request, cellnet::Responder respond);
  void receive_result(std::string client, std::string task_id, cellnet::Message request, cellnet::Responder respond);
  // Pulls a whole result, runs the task's result filters, then feeds the sink (see the top).
  // `live` says whether the task still takes results (checked before each step that feeds the sink).
  Status pull_filtered(const std::string& client, const std::string& task_name, fl::FLModel model,
                       const std::optional<cellnet::Manifest>& params, fl::ResultSink& sink, fl::FLModel& header,
                       const std::function<Status()>& live);
  void answer_locked(ActiveTask& task, const std::string& client, bool ok);
  void check_done_locked(ActiveTask& task, std::chrono::steady_clock::time_point now);
  bool dead_locked(const std::string& client, std::chrono::steady_clock::time_point now) const;
  cellnet::Message task_message_locked(const ActiveTask& task, const std::string& client) const;
  // The oldest live task `client` should fetch now, or null.
  ActiveTask* next_task_locked(const std::string& client);
  void handle_aux(const cellnet::Message& request, cellnet::Responder respond);
  void handle_log(const cellnet::Message& request, cellnet::Responder respond);
  // Ends the task's wait (handle): its outcome once no pull feeds its sink; releases its params.
  Result<fl::TaskOutcome> finish(ActiveTask& task);
  void serve_parked_locked(std::vector<std::pair<cellnet::Responder, cellnet::Message>>& out);
  void run_monitor();
  void touch_locked(const std::string& client);

  cellnet::Cell& cell_;
  ServerJobOptions opt_;
  // The cell outlives this engine: the handlers registered in start() pass this gate, which
  // stop() closes.
  cellnet::HandlerGate gate_{"the server job of " + opt_.job_id + " has stopped"};
  base::Logger log_;
  cellnet::DownloadService downloads_;
  base::ThreadPool pullers_;

  mutable std::mutex mu_;
  std::mutex analytics_mu_;  // serializes the analytics receivers' record()
  std::atomic<int> current_workflow_{-1};
  std::condition_variable cv_;
  bool started_ = false, stopping_ = false, ended_ = false;
  std::string abort_reason_;
  std::set<std::string> left_;  // clients that quit (client_left); guarded by mu_
  std::vector<Parked> parked_;
  std::map<std::string, std::unique_ptr<ActiveTask>> tasks_;  // live and finished tasks, by id
  std::vector<std::string> live_;                             // live task ids, oldest first
  bool pulls_stopped_ = false;  // stop() has stopped the pull threads; guarded by mu_
  std::map<std::string, fl::AuxHandler> aux_handlers_;        // by topic
  std::map<std::string, std::string> job_cells_;  // client -> its job cell (where it asked from)
  std::map<std::string, std::chrono::steady_clock::time_point> last_seen_;
  std::set<std::string> told_end_run_;
  std::chrono::steady_clock::time_point started_at_ = std::chrono::steady_clock::now();
  uint64_t task_counter_ = 0;
  std::thread monitor_;
};

}  // namespace nvf::runtime
