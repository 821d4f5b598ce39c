// A ConnectionHandler for driver tests: records connections, frames and closes, and lets the
// test wait for them with a deadline (no sleeps). Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "base/sanitizer_slowdown.h"
#include "cellnet/driver.h"

namespace nvf::cellnet_grpc::testing {

class RecordingHandler : public cellnet::ConnectionHandler {
 public:
  using ms = std::chrono::milliseconds;

  void on_connected(const std::shared_ptr<cellnet::Connection>& conn) override {
    std::lock_guard<std::mutex> lock(mu_);
    connected_.push_back(conn);
    cv_.notify_all();
  }
  void on_frame(const std::shared_ptr<cellnet::Connection>& /*conn*/, cellnet::Frame frame) override {
    std::lock_guard<std::mutex> lock(mu_);
    frames_.push_back(std::move(frame));
    cv_.notify_all();
  }
  void on_closed(const std::shared_ptr<cellnet::Connection>& /*conn*/, const Status& reason) override {
    std::lock_guard<std::mutex> lock(mu_);
    closed_.push_back(reason);
    cv_.notify_all();
  }

  /// The n-th (1-based) connection, or null after `timeout`.
  std::shared_ptr<cellnet::Connection> wait_connected(size_t n = 1, ms timeout = ms(3000)) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return connected_.size() >= n; })) return nullptr;
    return connected_[n - 1];
  }
  /// All frames once at least `n` arrived, or nullopt after `timeout`.
  std::optional<std::vector<cellnet::Frame>> wait_frames(size_t n, ms timeout = ms(5000) * base::kSanitizerSlowdown) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return frames_.size() >= n; })) return std::nullopt;
    return frames_;
  }
  /// The first close reason, or nullopt after `timeout`.
  std::optional<Status> wait_closed(ms timeout = ms(3000)) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return !closed_.empty(); })) return std::nullopt;
    return closed_.front();
  }
  size_t closed_count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return closed_.size();
  }
  size_t connected_count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return connected_.size();
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;                                // guarded by mu_
  std::vector<std::shared_ptr<cellnet::Connection>> connected_;  // guarded by mu_
  std::vector<cellnet::Frame> frames_;                        // guarded by mu_
  std::vector<Status> closed_;                                // guarded by mu_
};

}  // namespace nvf::cellnet_grpc::testing
