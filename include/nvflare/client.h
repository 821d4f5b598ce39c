// The nvflare Client API for training programs (FLARE's `nvflare.client`), without LibTorch:
//
//   #include <nvflare/client.h>
//   int main() {
//     if (auto s = nvflare::init(); !s.ok()) return 1;
//     while (nvflare::is_running()) {
//       auto task = nvflare::receive();            // the global model, or nullopt at the end
//       if (!task.ok() || !*task) break;
//       nvflare::FLModel result = train((*task)->params);
//       nvflare::send(result);                     // params are pulled by the server
//     }
//   }
//
// A program written on this API runs unchanged in the simulator, in POC and in production: the
// client job launches it with the environment that says where to connect (NVFLARE_CLIENT_URL,
// NVFLARE_CLIENT_FQCN, ...). The site's filters (task_data_filters / task_result_filters of its
// config_fed_client) run here, where the model is: receive() applies the task's data filters
// (direction IN) to the params it downloaded, send() applies the result filters (direction OUT)
// to what it publishes — after computing the DIFF when params_transfer_type is DIFF
// (docs/decisions/010-filters-run-where-the-model-is.md). The free functions use one Client per process; a program that
// wants more control makes its own `Client`. Client methods are called from one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "nvflare/status.h"
#include "nvflare/fl_model.h"
#include "nvflare/tensor.h"

namespace nvflare {

using nvf::Result;
using nvf::Status;
using FLModel = nvf::fl::FLModel;
using ParamsType = nvf::fl::ParamsType;
using Tensor = nvf::tensor::Tensor;
using TensorDict = nvf::tensor::TensorDict;

/// Where the trainer connects and how it sends; from_environment() reads what the launcher set.
struct ClientConfig {
  std::string url;           // NVFLARE_CLIENT_URL, e.g. uds:///run/nvflare-…/site-1.sock
  std::string fqcn;          // NVFLARE_CLIENT_FQCN: this program's cell name
  std::string parent_fqcn;   // NVFLARE_PARENT_FQCN: the client job's cell
  std::string site_name;     // NVFLARE_SITE_NAME
  std::string job_id;        // NVFLARE_JOB_ID
  std::string params_transfer_type = "FULL";  // FULL | DIFF: DIFF sends new − received
  std::chrono::milliseconds submit_result_timeout{300000};
  int max_resends = 3;
  /// NVFLARE_DOWNLOAD_COMPLETE_TIMEOUT_MS: how long a sent result stays downloadable when idle.
  std::chrono::milliseconds download_complete_timeout{1800000};
  std::chrono::milliseconds connect_timeout{60000};
  /// NVFLARE_MEMORY_GC_ROUNDS (the executor's memory_gc_rounds): after every N-th send() the
  /// freed heap is returned to the OS (malloc_trim). 0: never.
  int memory_gc_rounds = 0;
  /// NVFLARE_REUSE_MODEL_MEMORY=1: a train task's model is received into the memory of the
  /// previous train task's model wherever names, dtypes and shapes match, so a trainer touches no
  /// new memory after its first round. The tensors of that previous model are then overwritten:
  /// keep a copy of any you still need (validate and other tasks always get new memory). Off by
  /// default; `nvflare train` turns it on.
  bool reuse_model_memory = false;
  /// NVFLARE_CLIENT_FILTERS: a JSON file holding the site's resolved filter chains
  /// ({"task_data_filters": [...], "task_result_filters": [...]}). Empty: no filters.
  std::string filters_file;

  /// Errors: FAILED_PRECONDITION naming the missing variable ("not started by nvflare?").
  static Result<ClientConfig> from_environment();
};

class Client {
 public:
  /// Connects to the client job and builds the filter chains of config.filters_file.
  /// Errors: UNAVAILABLE (cannot connect), INVALID_ARGUMENT (also a filter file that cannot be
  /// read or names an unknown filter: the message names the file and the field).
  static Result<std::unique_ptr<Client>> connect(const ClientConfig& config);
  ~Client();

  /// Waits for the next task, pulls its params and runs the task's data filters on them. nullopt
  /// when the run is over. Errors: UNAVAILABLE (the client job went away), DATA_LOSS (a download
  /// failed), a filter's error.
  Result<std::optional<FLModel>> receive();
  /// Sends the result of the last task; returns once the server has it (params are pulled from
  /// this process, so it must stay alive until then). Resends up to max_resends times on
  /// timeouts with the same message. The task's result filters run first on what is sent.
  /// Errors: the server's refusal, DEADLINE_EXCEEDED, a filter's error.
  Status send(const FLModel& model);
  /// Experiment tracking (FLARE's flare.log and SummaryWriter.add_scalar / add_scalars): sends a
  /// scalar under `tag` at `step` to the server job, whose analytics receivers (TBAnalyticsReceiver:
  /// TensorBoard event files under tb_events/<site>/) record it. Returns once the client job has
  /// forwarded it. Errors: UNAVAILABLE (the client job went away), INVALID_ARGUMENT (empty tag).
  Status log_scalar(const std::string& tag, double value, int64_t step);
  /// Several scalars under one main tag (SummaryWriter.add_scalars): each goes as "<tag>/<name>".
  Status log_scalars(const std::string& tag, const std::map<std::string, double>& values, int64_t step);
  bool is_running() const;
  const std::string& site_name() const;
  const std::string& job_id() const;
  /// The name of the last task received ("train", ...).
  const std::string& task_name() const;
  void shutdown();

  class Impl;

 private:
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// The process-wide client used by the free functions below.
Status init();
Result<std::optional<FLModel>> receive();
Status send(const FLModel& model);
Status log_scalar(const std::string& tag, double value, int64_t step);
Status log_scalars(const std::string& tag, const std::map<std::string, double>& values, int64_t step);
bool is_running();
std::string site_name();
std::string job_id();
std::string task_name();
/// FLARE's task predicates: the last task is "train" / "validate" / "submit_model".
bool is_train();
bool is_evaluate();
bool is_submit_model();
void shutdown();

}  // namespace nvflare
