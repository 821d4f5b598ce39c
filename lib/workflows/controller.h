// The server-side workflow API (FLARE's ModelController / WFCommServer): a Controller runs on the
// server job's controller thread and drives rounds through its ControllerContext. The context is
// implemented by the server job engine (lib/runtime); nothing here knows whether it runs in the
// simulator or a deployment.
//
//   broadcast(task, sink)        starts a task and returns a handle at once: several tasks may be
//                                live together; results stream into the sink as they arrive; the
//                                handle waits for the task's end or cancels it.
//   broadcast_and_wait(...)      broadcast() + wait().
//   send_and_wait(task, target)  the task to one client.
//   relay_and_wait(task, order)  the task to each client in turn (FLARE's relay): a client that
//                                does not fetch it within the assignment timeout is skipped, and
//                                a callback may change the task for the next client.
//   per-target data              TaskSpec::per_target gives a client a task of its own.
//   send_aux / aux handlers      small JSON messages between the controller and the clients'
//                                executors, both ways (ExecutorContext::send_aux on the client).
//
// Aggregation is an interface (Aggregator, FLARE's accept / aggregate / reset) with the streaming
// WeightedAggregator as one implementation; a ModelUpdater turns an aggregate into the next global
// model (apply_update by default; a server-side optimizer in FedOpt).
//
// Threads: run() is called once, on the controller thread; the context's methods are called from
// it. ResultSink methods are called from the engine's download threads, one client at a time per
// sink call but possibly for several clients concurrently: a sink guards its own state. A sink
// must outlive its task's wait() (the handle's destructor waits too): wait() returns only once no
// result is being pulled into the sink any more.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
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
  FLModel data;  // params are offered once to every target without per-target data (one transaction)
  /// A target's own task data, offered to it alone (its own transaction); targets not listed
  /// get `data`.
  std::map<std::string, FLModel> per_target;
  std::vector<std::string> targets;  // empty: every client of the job
  int min_responses = 0;             // 0: every target must answer
  std::chrono::milliseconds wait_time_after_min_received{0};
  std::chrono::milliseconds timeout{0};  // 0: no timeout (the dead-client rule still ends the wait)
  /// A target that has not fetched the task this long after it started is no longer waited for
  /// (it is `missing`, and a result it sends later is refused). 0: no limit.
  std::chrono::milliseconds assignment_timeout{0};
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
  std::vector<std::string> missing;    // no result: timed out, client dead, never picked up, cancelled
  bool aborted = false;
};

/// A task started by broadcast(). Any thread may call its methods. A handle must not outlive the
/// context that gave it (a workflow's tasks end before its run() returns); its destructor
/// cancels a task still running and waits for it.
class TaskHandle {
 public:
  virtual ~TaskHandle() = default;
  /// The engine's id of the task (as in its log lines).
  virtual const std::string& id() const = 0;
  /// True once the task's rules ended it (or cancel(), or the job's abort).
  virtual bool done() const = 0;
  /// Waits until the task ends and no result is being pulled into its sink any more, then
  /// releases the task's params. Later calls return the same outcome. Errors: CANCELLED when the
  /// job was aborted or stopped.
  virtual Result<TaskOutcome> wait() = 0;
  /// Ends the task now: targets that have not answered are missing; a result being pulled stops.
  virtual void cancel() = 0;
};

/// Answers an aux message from a client's executor: the client's authenticated name and the
/// message body; the reply body goes back to it. Runs on the cell's threads: keep it quick.
using AuxHandler = std::function<Result<config::Value>(const std::string& client, const config::Value& body)>;

class ControllerContext {
 public:
  virtual ~ControllerContext() = default;
  virtual const std::string& job_id() const = 0;
  /// Clients of the job, sorted.
  virtual std::vector<std::string> clients() const = 0;
  /// Starts a task and returns at once. Errors: INVALID_ARGUMENT for a target that is not a client
  /// of the job or a per_target entry that is not a target; a task data filter's error.
  virtual Result<std::unique_ptr<TaskHandle>> broadcast(const TaskSpec& task, ResultSink& sink) = 0;
  virtual bool abort_requested() const = 0;
  /// The server app folder (FL_global_model.pt goes here) and the job's run folder.
  virtual const std::filesystem::path& app_dir() const = 0;
  virtual const std::filesystem::path& run_dir() const = 0;
  virtual base::Logger logger() const = 0;
  /// One line of progress for people ("round 2/5: 2/2 clients, accuracy 0.61").
  virtual void report_progress(const std::string& line) = 0;

  /// Sends `body` under `topic` to the executors of `targets` and waits up to `timeout` for each
  /// reply; the result maps each target to its executor's reply or the error (the executor's
  /// message, or one naming the topic when no executor handles it; DEADLINE_EXCEEDED; UNAVAILABLE
  /// when the client never fetched a task of this job, so its job cell is not known yet). The
  /// requests run concurrently: a dead client costs one timeout, not one per target.
  virtual std::map<std::string, Result<config::Value>> send_aux(const std::vector<std::string>& targets,
                                                                const std::string& topic,
                                                                const config::Value& body,
                                                                std::chrono::milliseconds timeout) = 0;
  /// Handles aux messages the clients' executors send under `topic` (one handler per topic; a
  /// later registration replaces it). An unhandled topic gets NOT_FOUND.
  virtual void set_aux_handler(const std::string& topic, AuxHandler handler) = 0;

  // ---- conveniences over broadcast() (controller.cc)

  /// broadcast() + wait().
  Result<TaskOutcome> broadcast_and_wait(const TaskSpec& task, ResultSink& sink);
  /// The task to `target` alone, waited for.
  Result<TaskOutcome> send_and_wait(const TaskSpec& task, const std::string& target, ResultSink& sink);
  /// After each target of a relay: its outcome; returns false to stop the relay, and may change
  /// the task for the next target (Cyclic passes the model on).
  using RelayStep = std::function<Result<bool>(const std::string& target, const TaskOutcome& outcome, TaskSpec& next)>;
  /// The task to each target of `order` in turn (FLARE's relay): each gets `task` as `step` left
  /// it, and a target that does not fetch it within task.assignment_timeout is skipped (missing in
  /// its outcome). Returns the targets that answered with an accepted result, in order.
  /// Errors: CANCELLED on abort, a step's error.
  Result<std::vector<std::string>> relay_and_wait(const TaskSpec& task, const std::vector<std::string>& order,
                                                  ResultSink& sink, const RelayStep& step);
};

/// A copy of `task` whose params are views of the original's (no tensor bytes are copied).
Result<TaskSpec> view_of(const TaskSpec& task);

class Controller {
 public:
  virtual ~Controller() = default;
  /// Runs the workflow to its end. An error ends the job with that message.
  virtual Status run(ControllerContext& ctx) = 0;
  /// What `show_stats` shows of this workflow while it runs (FLARE's controllers report
  /// {"phase", "current_round", "num_rounds"}); null: nothing. Called from any thread.
  virtual config::Value stats() const { return config::Value(); }
  /// The names of the tasks the workflow sends to clients (`job validate` checks that an executor
  /// takes each).
  virtual std::vector<std::string> task_names() const { return {}; }
};

/// FLARE's Aggregator: accepts results as they stream in, aggregates them into one model, and
/// resets for the next round. Implementations are thread-safe (results of several clients arrive
/// at once). WeightedAggregator (aggregator.h) is the streaming weighted mean.
class Aggregator {
 public:
  virtual ~Aggregator() = default;
  /// Starts a round: forgets the results of the last one.
  virtual void reset(int current_round) = 0;
  /// The model the round's task was sent with (results are checked against its shapes).
  virtual void expect_shapes_of(const tensor::TensorDict& global) {}
  /// A client's result begins / one of its tensors / it ended completely. An error rejects it.
  virtual Status accept_begin(const std::string& client, const FLModel& header) = 0;
  virtual Status accept_tensor(const std::string& client, const std::string& name, const tensor::Tensor& t) = 0;
  virtual Status accept_end(const std::string& client) = 0;
  /// A begun result that will not complete: it does not count.
  virtual void abandon(const std::string& client) = 0;
  /// Clients whose results were accepted completely this round, in order.
  virtual std::vector<std::string> contributors() const = 0;
  /// The round's aggregate. Errors: FAILED_PRECONDITION when nothing was accepted.
  virtual Result<FLModel> aggregate() = 0;
  /// Memory the next round's accumulators may take (the replaced global model's tensors, the
  /// applied aggregate's): a tensor is used only while nothing else holds it, so it never overwrites data
  /// someone still reads. Reusing memory whose pages are already touched spares a 1 GiB model a
  /// quarter of a million page faults per round. Optional.
  virtual void recycle(tensor::TensorDict /*memory*/) {}
};

/// Turns a round's aggregate into the next global model: FedAvg's apply_update (FULL replaces,
/// DIFF adds), or a server-side optimizer step (FedOpt).
class ModelUpdater {
 public:
  virtual ~ModelUpdater() = default;
  /// The workflow starts: its initial global model and number of rounds (a schedule over the
  /// rounds may need it).
  virtual Status start(const FLModel& /*global*/, int /*num_rounds*/) { return Status::OK(); }
  /// Adds to a round's task data what it carries besides the global model (SCAFFOLD's control
  /// variate).
  virtual Status prepare_task(FLModel& /*task_data*/, int /*round*/) { return Status::OK(); }
  virtual Status update(FLModel& global, FLModel aggregated, int round) = 0;
};

}  // namespace nvf::fl
