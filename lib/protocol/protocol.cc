#include "protocol/protocol.h"

#include <cstring>

#include "config/value.h"

namespace nvf::protocol {

cellnet::Message encode_model_message(const fl::FLModel& model, const std::optional<cellnet::Manifest>& params) {
  std::string body = "{\"model\":" + fl::encode_fl_model_header(model) + ",\"params\":";
  body += params ? params->encode() : "null";
  body += "}";
  return cellnet::Message::of(std::move(body));
}

Result<ModelMessage> decode_model_message(const cellnet::Message& message, std::string_view what) {
  auto parsed = config::parse(message.payload.to_string(), config::Format::kJson, what);
  if (!parsed.ok()) return parsed.status();
  const config::Value& v = *parsed;
  if (!v.is_object() || !v.contains("model")) {
    return InvalidArgumentError(std::string(what) + ": not a model message (no \"model\" field)");
  }
  ModelMessage out;
  auto model = fl::decode_fl_model_header(v["model"].dump());
  if (!model.ok()) return model.status().with_context(what);
  out.model = std::move(*model);
  if (v.contains("params") && !v["params"].is_null()) {
    auto m = cellnet::Manifest::decode(v["params"].dump());
    if (!m.ok()) return m.status().with_context(std::string(what) + ": params");
    out.params = std::move(*m);
  }
  return out;
}

Result<cellnet::Manifest> publish_params(cellnet::DownloadService& service, tensor::TensorDict params,
                                         cellnet::TransactionOptions options, std::string* tx_id) {
  std::string tx = service.new_transaction(std::move(options));
  if (tx_id) *tx_id = tx;
  auto object = std::make_shared<cellnet::TensorDownloadable>(std::move(params));
  NVF_ASSIGN_OR_RETURN(std::string ref, service.add(tx, object));
  return service.manifest(ref);
}

Status TensorStreamConsumer::start(const cellnet::Manifest& manifest) {
  manifest_ = manifest;
  for (const auto& item : manifest_.items) {
    if (!item.dtype) return InvalidArgumentError("download item '" + item.name + "' is not a tensor");
  }
  return Status::OK();
}

Status TensorStreamConsumer::consume(size_t item, uint64_t offset, const cellnet::Slice& bytes) {
  if (item >= manifest_.items.size()) return InvalidArgumentError("download item index out of range");
  const auto& info = manifest_.items[item];
  if (item != current_) {
    NVF_RETURN_IF_ERROR(deliver_empty_before(item));
    // The scratch is reusable when it is large enough and nothing kept the last tensor.
    if (scratch_.nbytes() < info.size || scratch_.keep_alive().use_count() != 2) {
      NVF_ASSIGN_OR_RETURN(scratch_, tensor::Tensor::uninitialized(tensor::DType::kU8,
                                                                   {static_cast<int64_t>(info.size)}));
    }
    NVF_ASSIGN_OR_RETURN(tensor_, tensor::Tensor::borrow(*info.dtype, info.shape, scratch_.data(), info.size,
                                                         scratch_.keep_alive()));
    current_ = item;
  }
  if (offset + bytes.size > tensor_.nbytes()) {
    return InvalidArgumentError("download of '" + info.name + "' overruns its size");
  }
  if (bytes.size) std::memcpy(scratch_.mutable_data() + offset, bytes.data, bytes.size);
  if (offset + bytes.size == tensor_.nbytes()) {
    current_ = SIZE_MAX;
    next_ = item + 1;
    return on_tensor_(info.name, std::move(tensor_));
  }
  return Status::OK();
}

Status TensorStreamConsumer::deliver_empty_before(size_t item) {
  for (; next_ < item; ++next_) {
    const auto& info = manifest_.items[next_];
    if (info.size != 0) return InternalError("download skipped the bytes of '" + info.name + "'");
    NVF_ASSIGN_OR_RETURN(tensor::Tensor t, tensor::Tensor::zeros(*info.dtype, info.shape));
    NVF_RETURN_IF_ERROR(on_tensor_(info.name, std::move(t)));
  }
  return Status::OK();
}

Status TensorStreamConsumer::finish() { return deliver_empty_before(manifest_.items.size()); }

}  // namespace nvf::protocol
