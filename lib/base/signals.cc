#include "base/signals.h"

#include <pthread.h>

namespace nvf::base {

SignalWatcher::SignalWatcher(std::function<void(int)> on_signal) : on_signal_(std::move(on_signal)) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR2);  // our own wake-up to stop the watcher
  pthread_sigmask(SIG_BLOCK, &set, &old_);
  thread_ = std::thread([this, set] {
    for (;;) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      if (sig == SIGUSR2 && stop_) return;
      if (sig == SIGINT || sig == SIGTERM) on_signal_(sig);
    }
  });
}

SignalWatcher::~SignalWatcher() {
  stop_ = true;
  pthread_kill(thread_.native_handle(), SIGUSR2);
  thread_.join();
  pthread_sigmask(SIG_SETMASK, &old_, nullptr);
}

}  // namespace nvf::base
