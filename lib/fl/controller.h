// The server-side workflow API (in the spirit of FLARE's ModelController): a Controller runs on the
// server job's controller thread and drives rounds through its ControllerContext — broadcast a
// task, receive results as they arrive, decide, repeat. The context is implemented by the server
// job engine (lib/runtime); nothing here knows whether it runs in the simulator or a deployment.
//
// Threads: run() is called once, on the controller thread. ResultSink methods are called from the
// engine's download threads, one client at a time per sink call but possibly for several clients
// concurrently: a sink guards its own state.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "base/logging.h"
#include "base/status.h"
#include "config/value.h"
#include "fl/fl_model.h"
#include "tensor/tensor.h"

namespace nvf::fl {

struct TaskSpec {
  std::string name = "train";
  FLModel data;                      // params are offered once to every target (one transaction)
  std::vector<std::string> targets;  // empty: every client of the job
  int min_responses = 0;             // 0: every target must answer
  std::chrono::milliseconds wait_time_after_min_received{0};
  std::chrono::milliseconds timeout{0};  // 0: no timeout (the dead-client rule still ends the wait)
};

/// Receives one task's results as they stream in: each tensor as soon as it is downloaded (the
/// sink accumulates and drops it, so no whole model is held per client), then the end of the
/// result.
class ResultSink {
 public:
  virtual ~ResultSink() = default;
  /// A client's result starts: everything but params (weights such as NUM_STEPS_CURRENT_ROUND are
  /// in its meta). An error rejects the result (on_result follows with that error).
  virtual Status on_begin(const std::string& client, const FLModel& header) = 0;
  /// An error rejects this client's result (the engine stops downloading it and calls on_result
  /// with that error).
  virtual Status on_tensor(const std::string& client, const std::string& name,
                           const tensor::Tensor& tensor) = 0;
  /// The client's result ended: OK with `model` carrying everything but params, or an error.
  virtual void on_result(const std::string& client, const Status& status, const FLModel& model) = 0;
};

struct TaskOutcome {
  std::vector<std::string> responded;  // results that arrived and were accepted
  std::vector<std::string> failed;     // results that arrived with an error or were rejected
  std::vector<std::string> missing;    // no result: timed out, client dead, or never picked up
  bool aborted = false;
};

class ControllerContext {
 public:
  virtual ~ControllerContext() = default;
  virtual const std::string& job_id() const = 0;
  /// Clients of the job, sorted.
  virtual std::vector<std::string> clients() const = 0;
  /// Sends a task and waits until the rules of TaskSpec end it. Errors: CANCELLED on abort.
  virtual Result<TaskOutcome> broadcast_and_wait(const TaskSpec& task, ResultSink& sink) = 0;
  virtual bool abort_requested() const = 0;
  /// The server app folder (FL_global_model.pt goes here) and the job's run folder.
  virtual const std::filesystem::path& app_dir() const = 0;
  virtual const std::filesystem::path& run_dir() const = 0;
  virtual base::Logger logger() const = 0;
  /// One line of progress for people ("round 2/5: 2/2 clients, accuracy 0.61").
  virtual void report_progress(const std::string& line) = 0;
};

class Controller {
 public:
  virtual ~Controller() = default;
  /// Runs the workflow to its end. An error ends the job with that message.
  virtual Status run(ControllerContext& ctx) = 0;
  /// What `show_stats` shows of this workflow while it runs (FLARE's controllers report
  /// {"phase", "current_round", "num_rounds"}); null: nothing. Called from any thread.
  virtual config::Value stats() const { return config::Value(); }
};

}  // namespace nvf::fl
