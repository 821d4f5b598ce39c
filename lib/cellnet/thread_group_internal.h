// ThreadGroup: the threads a driver owns (per-connection readers, writers, delivery threads).
// A thread that finishes is joined lazily by the next spawn() or by join_all(), so a connection
// can end on its own thread (e.g. close() called from its handler) without anyone joining a
// thread from itself, and nothing is ever detached. Owned by one driver; spawn() and join_all()
// may be called from any thread except that join_all() must not run on a thread of the group.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "base/status.h"

namespace nvf::cellnet {

class ThreadGroup {
 public:
  ThreadGroup() = default;
  ThreadGroup(const ThreadGroup&) = delete;
  ThreadGroup& operator=(const ThreadGroup&) = delete;
  ~ThreadGroup() { join_all(); }

  /// Starts a thread running `fn`. The thread must not touch the group after `fn` returns.
  void spawn(std::function<void()> fn) {
    std::vector<std::thread> finished;
    std::lock_guard<std::mutex> lock(mu_);
    collect_finished_locked(finished);
    uint64_t id = next_id_++;
    running_.emplace(
        id, std::thread([this, id, fn = std::move(fn)]() mutable {
          fn();
          fn = nullptr;  // release captures (connections) before reporting done
          std::lock_guard<std::mutex> l(mu_);
          done_.push_back(id);
          cv_.notify_all();  // under the lock: the group may be destroyed right after we unlock
        }));
    // A finished thread has left its critical section (we hold mu_), so joining here is quick.
    for (auto& t : finished) t.join();
  }

  /// Waits for every spawned thread to finish and joins it. Not from a thread of the group.
  void join_all() {
    std::unique_lock<std::mutex> lock(mu_);
    for (const auto& [id, t] : running_) NVF_CHECK(t.get_id() != std::this_thread::get_id());
    cv_.wait(lock, [this] { return done_.size() == running_.size(); });
    std::vector<std::thread> finished;
    collect_finished_locked(finished);
    lock.unlock();
    for (auto& t : finished) t.join();
  }

 private:
  void collect_finished_locked(std::vector<std::thread>& out) {
    for (uint64_t id : done_) {
      auto it = running_.find(id);
      out.push_back(std::move(it->second));
      running_.erase(it);
    }
    done_.clear();
  }

  std::mutex mu_;
  std::condition_variable cv_;               // guarded by mu_
  std::map<uint64_t, std::thread> running_;  // guarded by mu_: not yet joined
  std::vector<uint64_t> done_;               // guarded by mu_: finished, not yet joined
  uint64_t next_id_ = 1;                     // guarded by mu_
};

}  // namespace nvf::cellnet
