// The two-class send queue every connection uses: control frames (no kFlagBulk) always leave
// before bulk frames (stream chunks), so a heartbeat, an ACK or a request never waits behind a
// large stream for more than the one chunk being written. Thread-safe: producers call push() from
// any thread; one writer calls pop().
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>

#include "cellnet/frame.h"

namespace nvf::cellnet {

class SendQueue {
 public:
  /// Queues a frame; false when the queue is closed.
  bool push(Frame frame);
  /// The next frame (control first), waiting until one exists or the queue closes (nullopt).
  std::optional<Frame> pop();
  /// As pop() without waiting.
  std::optional<Frame> try_pop();
  /// Wakes waiters; later pushes fail; queued frames are dropped.
  void close();
  bool closed() const;
  size_t queued_bytes() const;

 private:
  std::optional<Frame> take_locked();

  mutable std::mutex mu_;
  std::condition_variable cv_;  // guarded by mu_
  std::deque<Frame> control_;   // guarded by mu_
  std::deque<Frame> bulk_;      // guarded by mu_
  size_t bytes_ = 0;            // guarded by mu_
  bool closed_ = false;         // guarded by mu_
};

}  // namespace nvf::cellnet
