#include "base/executor.h"

#include <pthread.h>

#include <cstdio>

namespace nvf::base {

ThreadPool::ThreadPool(std::string name, size_t threads) : name_(std::move(name)), size_(threads ? threads : 1) {}

void ThreadPool::start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (started_) return;
  started_ = true;
  stopping_ = false;
  for (size_t i = 0; i < size_; ++i) {
    threads_.emplace_back([this] { run(); });
    std::string tname = name_.substr(0, 12) + "-" + std::to_string(i);
    pthread_setname_np(threads_.back().native_handle(), tname.c_str());
  }
}

void ThreadPool::stop(bool drain) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!started_) {
      queue_.clear();
      return;
    }
    stopping_ = true;
    drain_ = drain;
    if (!drain) queue_.clear();
  }
  cv_.notify_all();
  // Called from one of our own tasks, the calling thread cannot join itself: it finishes its task
  // and leaves the loop, and stays in threads_ for the next stop() or the destructor to join.
  const auto self = std::this_thread::get_id();
  std::vector<std::thread> mine;
  {
    std::lock_guard<std::mutex> lock(mu_);
    mine.swap(threads_);
  }
  std::vector<std::thread> kept;
  for (auto& t : mine) {
    if (t.get_id() == self) {
      kept.push_back(std::move(t));
    } else if (t.joinable()) {
      t.join();
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& t : kept) threads_.push_back(std::move(t));
  started_ = !threads_.empty();
}

ThreadPool::~ThreadPool() { stop(false); }

bool ThreadPool::post(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return false;
    queue_.push_back(std::move(task));
  }
  cv_.notify_one();
  return true;
}

size_t ThreadPool::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

void ThreadPool::run() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    // The barrier: a task that throws is reported and the pool goes on (an exception escaping a
    // thread would end the process).
    try {
      task();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s: a task threw: %s\n", name_.c_str(), e.what());
    } catch (...) {
      std::fprintf(stderr, "%s: a task threw\n", name_.c_str());
    }
  }
}

}  // namespace nvf::base
