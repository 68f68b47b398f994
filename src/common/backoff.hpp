// Waiting for another thread without burning a core: a waiter yields a while (a short wait
// costs no more than a spin), then sleeps, longer each time up to 1 ms, so a long wait (an
// output that is blocked, a consumer far behind) costs next to no CPU. A wait() that comes
// long after the previous one starts a new wait, with yields again: a waiter that made
// progress in between is not slowed by the sleeps of its last wait.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <thread>

namespace etcpipe {

class Backoff {
 public:
  void wait() {
    const auto now = Clock::now();
    if (now - last_ > std::chrono::microseconds(sleep_us_ + kNewWaitGapUs)) reset();
    if (yields_ < kYields) {
      ++yields_;
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(sleep_us_));
      sleep_us_ = std::min(sleep_us_ * 2, kMaxSleepUs);
    }
    last_ = Clock::now();
  }

 private:
  using Clock = std::chrono::steady_clock;
  void reset() {  // a new wait: yields again
    yields_ = 0;
    sleep_us_ = kFirstSleepUs;
  }
  static constexpr uint32_t kYields = 2000;
  static constexpr uint32_t kFirstSleepUs = 20;
  static constexpr uint32_t kMaxSleepUs = 1000;
  static constexpr uint32_t kNewWaitGapUs = 1000;  // a gap this much longer than a sleep
  uint32_t yields_ = 0;
  uint32_t sleep_us_ = kFirstSleepUs;
  Clock::time_point last_{};
};

}  // namespace etcpipe
