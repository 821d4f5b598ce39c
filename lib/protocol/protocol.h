// Names shared by the server job, the client job and the trainer (channels, topics, headers and
// special task names: FLARE's spellings where FLARE has them), and the model message — an FLModel
// header plus a manifest of its params, which travel by reference and are pulled by whoever needs
// them (DESIGN §4.6). Stateless functions.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "cellnet/download_manifest.h"
#include "cellnet/download_service.h"
#include "cellnet/downloader.h"
#include "cellnet/message.h"
#include "fl/fl_model.h"

namespace nvf::protocol {

// Server job <-> client job.
inline constexpr std::string_view kChannelServerCommand = "server_command";
inline constexpr std::string_view kTopicGetTask = "get_task";
inline constexpr std::string_view kTopicSubmitUpdate = "submit_update";
inline constexpr std::string_view kChannelAux = "aux_communication";
inline constexpr std::string_view kTopicJobHeartbeat = "__job_heartbeat__";
// Aux messages between a workflow and the clients' executors, both ways (channel kChannelAux):
// the topic in kHdrAuxTopic, a JSON body, a JSON reply.
inline constexpr std::string_view kTopicAuxRequest = "aux_request";
inline constexpr std::string_view kHdrAuxTopic = "aux_topic";
// Client job <-> trainer (Client API).
inline constexpr std::string_view kChannelClientApi = "client_api";
inline constexpr std::string_view kTopicSubmitResult = "submit_result";
inline constexpr std::string_view kTopicLog = "log";

inline constexpr std::string_view kHdrTaskName = "task_name";
inline constexpr std::string_view kHdrTaskId = "__task_id__";
inline constexpr std::string_view kHdrClientName = "client_name";
inline constexpr std::string_view kHdrResultCode = "__rc__";
inline constexpr std::string_view kHdrResultError = "__rc_error__";
inline constexpr std::string_view kHdrWaitTime = "__wait_time__";

inline constexpr std::string_view kTaskEndRun = "__end_run__";
inline constexpr std::string_view kTaskTryAgain = "__try_again__";

/// What a task or a result carries: the model without its params, and where to pull them.
struct ModelMessage {
  fl::FLModel model;  // params empty
  std::optional<cellnet::Manifest> params;
};

/// Payload: {"model": <FLModel header>, "params": <manifest or null>}.
cellnet::Message encode_model_message(const fl::FLModel& model, const std::optional<cellnet::Manifest>& params);

/// Errors: INVALID_ARGUMENT naming `what` (e.g. "task from server.job") and the bad field.
Result<ModelMessage> decode_model_message(const cellnet::Message& message, std::string_view what);

/// Offers `params` for download in a new transaction and returns their manifest (and the
/// transaction id, to end it early).
Result<cellnet::Manifest> publish_params(cellnet::DownloadService& service, tensor::TensorDict params,
                                         cellnet::TransactionOptions options, std::string* tx_id = nullptr);

/// A download consumer that assembles each tensor and hands it over as soon as its last byte
/// arrives, so a receiver holds one tensor at a time (streaming aggregation). A tensor handed
/// over is read-only memory of the consumer's: when the callee keeps no reference to it, the next
/// tensor is assembled in the same memory.
class TensorStreamConsumer : public cellnet::DownloadConsumer {
 public:
  using OnTensor = std::function<Status(const std::string& name, tensor::Tensor tensor)>;
  explicit TensorStreamConsumer(OnTensor on_tensor) : on_tensor_(std::move(on_tensor)) {}
  Status start(const cellnet::Manifest& manifest) override;
  Status consume(size_t item, uint64_t offset, const cellnet::Slice& bytes) override;
  Status finish() override;

 private:
  // Empty tensors have no bytes to consume: they are handed over when a later item starts.
  Status deliver_empty_before(size_t item);

  OnTensor on_tensor_;
  size_t next_ = 0;  // the first item not handed over yet
  cellnet::Manifest manifest_;
  size_t current_ = SIZE_MAX;
  tensor::Tensor tensor_;
  // The memory tensors are assembled in, used again for the next tensor when on_tensor did not
  // keep the last one (a sink that accumulates): one tensor's worth of pages, touched once.
  tensor::Tensor scratch_;
};

}  // namespace nvf::protocol
