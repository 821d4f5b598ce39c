// SignalWatcher: turns SIGINT and SIGTERM into a call on a thread of its own, so no
// async-signal-unsafe work runs in a handler. Construct it before any other thread exists: the
// signals are blocked in the constructing thread and every thread started later inherits that,
// so the signals reach the watcher only.
//
// Ownership: owned by the process's main role (a daemon, the simulator); it owns its thread.
// Threads: the callback runs on the watcher's thread; the destructor joins it and restores the mask.
#pragma once

#include <signal.h>

#include <atomic>
#include <functional>
#include <thread>

namespace nvf::base {

class SignalWatcher {
 public:
  /// `on_signal` receives SIGINT or SIGTERM, once per delivery.
  explicit SignalWatcher(std::function<void(int)> on_signal);
  ~SignalWatcher();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

 private:
  std::function<void(int)> on_signal_;
  std::atomic<bool> stop_{false};
  sigset_t old_;
  std::thread thread_;
};

}  // namespace nvf::base
