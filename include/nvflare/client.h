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
// NVFLARE_CLIENT_FQCN, ...). The free functions use one Client per process; a program that
// wants more control makes its own `Client`. Client methods are called from one thread at a time.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "base/status.h"
#include "fl/fl_model.h"
#include "tensor/tensor.h"

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

  /// Errors: FAILED_PRECONDITION naming the missing variable ("not started by nvflare?").
  static Result<ClientConfig> from_environment();
};

class Client {
 public:
  /// Connects to the client job. Errors: UNAVAILABLE (cannot connect), INVALID_ARGUMENT.
  static Result<std::unique_ptr<Client>> connect(const ClientConfig& config);
  ~Client();

  /// Waits for the next task and pulls its params. nullopt when the run is over.
  /// Errors: UNAVAILABLE (the client job went away), DATA_LOSS (a download failed).
  Result<std::optional<FLModel>> receive();
  /// Sends the result of the last task; returns once the server has it (params are pulled from
  /// this process, so it must stay alive until then). Resends up to max_resends times on
  /// timeouts with the same message. Errors: the server's refusal, DEADLINE_EXCEEDED.
  Status send(const FLModel& model);
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
bool is_running();
std::string site_name();
std::string job_id();
std::string task_name();
void shutdown();

}  // namespace nvflare
