#include "cellnet/send_queue.h"

namespace nvf::cellnet {

bool SendQueue::push(Frame frame) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return false;
    bytes_ += frame.wire_size();
    (frame.bulk() ? bulk_ : control_).push_back(std::move(frame));
  }
  cv_.notify_one();
  return true;
}

std::optional<Frame> SendQueue::take_locked() {
  std::deque<Frame>* q = !control_.empty() ? &control_ : (!bulk_.empty() ? &bulk_ : nullptr);
  if (!q) return std::nullopt;
  Frame f = std::move(q->front());
  q->pop_front();
  bytes_ -= f.wire_size();
  return f;
}

std::optional<Frame> SendQueue::pop() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return closed_ || !control_.empty() || !bulk_.empty(); });
  if (closed_) return std::nullopt;
  return take_locked();
}

std::optional<Frame> SendQueue::try_pop() {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) return std::nullopt;
  return take_locked();
}

void SendQueue::close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    control_.clear();
    bulk_.clear();
    bytes_ = 0;
  }
  cv_.notify_all();
}

bool SendQueue::closed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return closed_;
}

size_t SendQueue::queued_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

}  // namespace nvf::cellnet
