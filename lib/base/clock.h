// Time sources. Components take a Clock& so tests can drive time by hand (ManualClock) instead of
// sleeping. SteadyClock is stateless; ManualClock is thread-safe.
#pragma once

#include <chrono>
#include <mutex>

namespace nvf::base {

class Clock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  virtual time_point now() const = 0;
};

class SteadyClock : public Clock {
 public:
  time_point now() const override { return std::chrono::steady_clock::now(); }
};

class ManualClock : public Clock {
 public:
  time_point now() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return now_;
  }
  void advance(std::chrono::nanoseconds d) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ += d;
  }

 private:
  mutable std::mutex mu_;
  time_point now_{};  // guarded by mu_
};

}  // namespace nvf::base
