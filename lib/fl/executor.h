// The client-side task API: an Executor runs the tasks the client job engine pulls from the server
// (FLARE's Executor). It sees no transport: a task arrives as its name, id, model header and an
// opaque reference to its params; a TaskIO pulls params by reference and publishes a result's
// params, returning the reference that goes into the result. An executor that only relays (the
// runtime's launcher, which hands the task to a trainer program) forwards the references and
// never touches a byte of the model.
//
// A native executor is a few lines:
//
//   Result<TaskResult> execute(const Task& task, TaskIO& io, ExecutorContext&) override {
//     NVF_ASSIGN_OR_RETURN(tensor::TensorDict params, io.pull(task.params));
//     ... train on params ...
//     TaskResult r;
//     r.model.params_type = ParamsType::kFull;
//     NVF_ASSIGN_OR_RETURN(r.params, io.publish(std::move(params)));
//     return r;
//   }
//
// Threads: initialize(), execute() and finalize() are called from the client job's task thread,
// one at a time; abort() may be called from any thread while execute() runs. A TaskIO is valid
// during the execute() it is given to.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>

#include "base/logging.h"
#include "base/status.h"
#include "config/value.h"
#include "fl/fl_model.h"
#include "tensor/tensor.h"

namespace nvf::fl {

/// Where params are: opaque to executors (the runtime encodes a download manifest in it). Empty
/// when a task or result carries no params.
struct ParamsRef {
  std::string encoded;
  bool empty() const { return encoded.empty(); }
};

/// One task from the server: FLARE's task name ("train", "validate", "submit_model"), its id, the
/// model without params (rounds, meta) and a reference to its params.
struct Task {
  std::string name;
  std::string id;
  FLModel model;  // params empty
  ParamsRef params;
};

/// What an executor returns: the model without params (params_type, metrics, meta) and a
/// reference to its params (TaskIO::publish), or none.
struct TaskResult {
  FLModel model;  // params empty
  ParamsRef params;
};

/// Moves params for an executor, over whatever transport the runtime uses.
class TaskIO {
 public:
  virtual ~TaskIO() = default;
  /// Downloads the params `ref` names. Errors: INVALID_ARGUMENT for an empty or malformed
  /// reference, DATA_LOSS / UNAVAILABLE when the download fails.
  virtual Result<tensor::TensorDict> pull(const ParamsRef& ref) = 0;
  /// Offers `params` to the one receiver of this task's result and returns their reference; the
  /// params stay alive until they were pulled or the offer expired.
  virtual Result<ParamsRef> publish(tensor::TensorDict params) = 0;
};

/// What the engine tells an executor about where it runs. The runtime passes a derived context
/// with its own extras to the executors it ships (the launcher); native executors need none.
struct ExecutorContext {
  virtual ~ExecutorContext() = default;
  std::string site_name;
  std::string job_id;
  std::filesystem::path app_dir;    // <site run dir>/app_<site>
  std::filesystem::path run_dir;    // <site workspace>/<job id>
  std::filesystem::path workspace;  // the site's workspace root
  std::string nvflare_bin;          // the running nvflare binary ({NVFLARE_BIN})
  base::Logger logger;
  std::function<bool()> abort_requested;
  /// Sends an aux message to the job's workflow (ControllerContext::set_aux_handler) and waits up
  /// to `timeout` for its reply. Set by the engine; any thread.
  std::function<Result<config::Value>(const std::string& topic, const config::Value& body,
                                      std::chrono::milliseconds timeout)>
      send_aux;
  /// The site's resolved task_data_filters / task_result_filters (fl::filter_config_of; an empty
  /// object when none). The client job holds no model, so it runs no filter itself: an executor
  /// hands this to where the model is (the launcher passes it to its trainer).
  config::Value filter_config = config::Value::object();
};

class Executor {
 public:
  virtual ~Executor() = default;
  virtual Status initialize(ExecutorContext& ctx) { return Status::OK(); }
  /// Runs one task. Errors end this task with that message (the server sees the site's result
  /// as failed, naming it).
  virtual Result<TaskResult> execute(const Task& task, TaskIO& io, ExecutorContext& ctx) = 0;
  /// Tells the executor whether the result of its last execute() reached the server (called by
  /// the engine after the submit, so a trainer can be answered only once the server has it).
  virtual void result_submitted(const Status& status) {}
  /// Answers an aux message from the job's workflow (ControllerContext::send_aux). Called on the
  /// cell's threads, possibly while execute() runs: keep it quick and guard shared state.
  /// NOT_FOUND (the default): this executor does not handle the topic.
  virtual Result<config::Value> on_aux(const std::string& topic, const config::Value& body, ExecutorContext& ctx) {
    return NotFoundError("no handler for aux topic '" + topic + "'");
  }
  /// Interrupts a running execute() (job abort).
  virtual void abort() {}
  virtual void finalize(ExecutorContext& ctx) {}
};

}  // namespace nvf::fl
