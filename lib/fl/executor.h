// The client-side task API: an Executor runs the tasks the client job engine pulls from the
// server (FLARE's Executor). The built-in one launches a trainer program that speaks the Client
// API and relays tasks and results by reference (lib/runtime/launcher_executor.h).
//
// Threads: initialize(), execute() and finalize() are called from the client job's task thread,
// one at a time; abort() may be called from any thread while execute() runs.
#pragma once

#include <filesystem>
#include <functional>
#include <string>

#include "base/logging.h"
#include "base/status.h"
#include "cellnet/cell.h"
#include "cellnet/message.h"
#include "config/value.h"

namespace nvf::fl {

struct ExecutorContext {
  std::string site_name;
  std::string job_id;
  std::filesystem::path app_dir;    // <site run dir>/app_<site>
  std::filesystem::path run_dir;    // <site workspace>/<job id>
  std::filesystem::path workspace;  // the site's workspace root
  std::string nvflare_bin;          // the running nvflare binary ({NVFLARE_BIN})
  cellnet::Cell* cell = nullptr;    // the client job's cell
  std::string child_url;            // where the cell listens for its children (the trainer)
  base::Logger logger;
  std::function<bool()> abort_requested;
  /// The site's resolved task_data_filters / task_result_filters (fl::filter_config_of; an empty
  /// object when none). The client job holds no model, so it runs no filter itself: an executor
  /// hands this to where the model is (the launcher passes it to its trainer).
  config::Value filter_config = config::Value::object();
};

class Executor {
 public:
  virtual ~Executor() = default;
  virtual Status initialize(ExecutorContext& ctx) { return Status::OK(); }
  /// Runs one task. `task` is the server's task message (model header + params manifest); the
  /// returned message is the result in the same form. Errors end this task with that message.
  virtual Result<cellnet::Message> execute(const std::string& task_name,
                                           const cellnet::Message& task, ExecutorContext& ctx) = 0;
  /// Tells the executor whether the result of its last execute() reached the server (called by
  /// the engine after the submit, so a trainer can be answered only once the server has it).
  virtual void result_submitted(const Status& status) {}
  /// Interrupts a running execute() (job abort).
  virtual void abort() {}
  virtual void finalize(ExecutorContext& ctx) {}
};

}  // namespace nvf::fl
