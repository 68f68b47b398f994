// Time in the pipeline: packet and wall times are nanoseconds in uint64_t.
#pragma once

#include <time.h>

#include <cstdint>

namespace etcpipe {

inline constexpr uint64_t kNsPerSec = 1'000'000'000ULL;

// The wall clock (CLOCK_REALTIME, as the kernel stamps packets), in ns since the epoch.
inline uint64_t realtime_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return uint64_t(ts.tv_sec) * kNsPerSec + uint64_t(ts.tv_nsec);
}

}  // namespace etcpipe
