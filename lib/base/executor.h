// Owned executors: a SerialExecutor runs posted tasks one at a time, in order, on its own thread;
// a ThreadPool runs them on N threads. Each is owned by one component, started with start() and
// stopped with stop() (or the destructor), which drains nothing further and joins. post() may be
// called from any thread; tasks posted after stop() are dropped and post() returns false.
// stop() may be called from one of the pool's own tasks: that thread finishes its task and is
// joined by the next stop() or the destructor, which must then run on another thread (an owner
// never destroys its pool from inside one of the pool's tasks).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace nvf::base {

class ThreadPool {
 public:
  ThreadPool(std::string name, size_t threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  void start();
  /// Runs the tasks already queued when `drain`, else drops them; then joins every thread.
  void stop(bool drain = true);
  bool post(std::function<void()> task);
  size_t queued() const;
  size_t size() const { return size_; }

 private:
  void run();

  const std::string name_;
  const size_t size_;
  mutable std::mutex mu_;
  std::condition_variable cv_;             // guarded by mu_
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  bool started_ = false;                   // guarded by mu_
  bool stopping_ = false;                  // guarded by mu_
  bool drain_ = true;                      // guarded by mu_
  std::vector<std::thread> threads_;
};

/// A ThreadPool of one: tasks run in the order they were posted.
class SerialExecutor : public ThreadPool {
 public:
  explicit SerialExecutor(std::string name) : ThreadPool(std::move(name), 1) {}
};

}  // namespace nvf::base
