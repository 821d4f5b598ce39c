#include "cellnet_grpc/grpc_connection_internal.h"

#include "cellnet_grpc/byte_buffer_codec_internal.h"

namespace nvf::cellnet_grpc {

using cellnet::Frame;

GrpcConnection::GrpcConnection(cellnet::PeerInfo peer, cellnet::ConnectionHandler* handler,
                               const cellnet::DriverOptions& options)
    : peer_(std::move(peer)), handler_(handler), max_payload_(options.max_payload) {}

std::string GrpcConnection::describe() const {
  std::string out = peer_.address.empty() ? peer_.url : peer_.address + " (" + peer_.url + ")";
  if (!peer_.common_name.empty()) out += " CN=" + peer_.common_name;
  return out;
}

Status GrpcConnection::send(Frame frame) {
  if (frame.payload.size() > max_payload_) {
    return InvalidArgumentError("frame payload of " + std::to_string(frame.payload.size()) +
                                " bytes exceeds max_message_size (" + std::to_string(max_payload_) +
                                ") on the connection to " + describe());
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (closing_ || !queue_.push(std::move(frame))) {
    return UnavailableError("connection to " + describe() + " is closed");
  }
  pump_locked();
  return Status::OK();
}

std::chrono::milliseconds GrpcConnection::current_write_age() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!writing_) return std::chrono::milliseconds(0);
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - write_started_);
}

bool GrpcConnection::closed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return closing_;
}

void GrpcConnection::attach(StreamOps* ops) {
  std::lock_guard<std::mutex> lock(mu_);
  ops_ = ops;
}

void GrpcConnection::start() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closing_ || !ops_) {
      end_locked();
      return;
    }
    started_ = true;
    in_start_ = true;  // end() waits: on_closed must not overtake on_connected
  }
  handler_->on_connected(shared_from_this());
  std::lock_guard<std::mutex> lock(mu_);
  in_start_ = false;
  if (closing_) {
    end_locked();
    return;
  }
  ops_->start_read(&read_buf_);
  pump_locked();
}

void GrpcConnection::pump_locked() {
  if (writing_ || closing_ || !started_ || !ops_) return;
  std::optional<Frame> frame = queue_.try_pop();
  if (!frame) return;
  write_buf_ = to_byte_buffer(cellnet::encode_frame(*frame));
  writing_ = true;
  write_started_ = Clock::now();
  ops_->start_write(&write_buf_);
}

void GrpcConnection::end_locked() {
  if (ended_ || !ops_ || writing_ || in_start_) return;
  ended_ = true;
  grpc::Status status = reason_.ok() || peer_closed_
                            ? grpc::Status::OK
                            : grpc::Status(grpc::StatusCode::UNAVAILABLE, reason_.message());
  ops_->end(status);
}

void GrpcConnection::close_impl(const Status& reason, bool force) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!closing_) {
    closing_ = true;
    reason_ = reason;
    queue_.close();
  }
  if (force && ops_) ops_->cancel();
  end_locked();
}

void GrpcConnection::on_read_done(bool ok) {
  if (!ok) {  // the peer ended its side, or the stream broke
    std::lock_guard<std::mutex> lock(mu_);
    if (!closing_) {
      closing_ = true;
      peer_closed_ = true;
      reason_ = UnavailableError("connection to " + describe() + " closed by the peer");
      queue_.close();
    }
    end_locked();
    return;
  }
  Result<cellnet::Buffer> bytes = from_byte_buffer(read_buf_);
  read_buf_.Clear();  // the slices live on in `bytes`
  Result<Frame> frame = bytes.ok() ? cellnet::decode_frame(*bytes, max_payload_) : Result<Frame>(bytes.status());
  if (!frame.ok()) {
    abort(InvalidArgumentError("malformed frame from " + describe() + ": " + frame.status().message()));
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closing_) return;  // closed locally: no more frames for the handler
  }
  handler_->on_frame(shared_from_this(), std::move(frame).value());
  std::lock_guard<std::mutex> lock(mu_);
  if (!closing_ && ops_) ops_->start_read(&read_buf_);
}

void GrpcConnection::on_write_done(bool ok) {
  std::lock_guard<std::mutex> lock(mu_);
  writing_ = false;
  write_buf_.Clear();
  if (!ok && !closing_) {  // the stream is broken; the final status says why
    closing_ = true;
    peer_closed_ = true;
    reason_ = UnavailableError("write to " + describe() + " failed: the stream is broken");
    queue_.close();
  }
  if (closing_) {
    end_locked();
    return;
  }
  pump_locked();
}

void GrpcConnection::on_stream_done(const std::optional<grpc::Status>& final_status) {
  Status reason;
  bool report = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ops_ = nullptr;
    writing_ = false;
    write_buf_.Clear();
    if (!closing_) {
      closing_ = true;
      peer_closed_ = true;
      reason_ = UnavailableError("stream to " + describe() + " ended");
      queue_.close();
    }
    if (peer_closed_ && final_status && !final_status->ok()) {
      reason_ = from_grpc_status(*final_status, "connection to " + describe() + " closed");
    }
    reason = reason_;
    report = started_;
  }
  if (report) handler_->on_closed(shared_from_this(), reason);
}

bool StreamRegistry::add(const std::shared_ptr<GrpcConnection>& conn) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) return false;
  live_[conn.get()] = conn;
  return true;
}

void StreamRegistry::remove(const GrpcConnection* conn) {
  std::shared_ptr<GrpcConnection> last;  // released outside the lock
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = live_.find(conn);
    if (it == live_.end()) return;
    last = std::move(it->second);
    live_.erase(it);
  }
  cv_.notify_all();
}

std::vector<std::shared_ptr<GrpcConnection>> StreamRegistry::snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::shared_ptr<GrpcConnection>> out;
  out.reserve(live_.size());
  for (const auto& [key, conn] : live_) out.push_back(conn);
  return out;
}

void StreamRegistry::close_all(const Status& reason) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  for (const auto& conn : snapshot()) conn->abort(reason);
}

void StreamRegistry::wait_empty() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return live_.empty(); });
}

void StreamRegistry::retire(std::shared_ptr<void> object) {
  std::lock_guard<std::mutex> lock(mu_);
  retired_.push_back(std::move(object));
}

void StreamRegistry::release_retired() {
  std::vector<std::shared_ptr<void>> doomed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    doomed.swap(retired_);
  }
}

Status from_grpc_status(const grpc::Status& status, const std::string& context) {
  if (status.ok()) return Status::OK();
  std::string msg = status.error_message().empty() ? "(no detail)" : status.error_message();
  return Status(static_cast<StatusCode>(status.error_code()), context + ": " + msg);
}

}  // namespace nvf::cellnet_grpc
