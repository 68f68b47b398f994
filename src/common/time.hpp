// Time in the pipeline: packet and wall times are nanoseconds in uint64_t.
#pragma once

#include <time.h>

#include <cstdint>
#include <ctime>
#include <string>

namespace etcpipe {

inline constexpr uint64_t kNsPerSec = 1'000'000'000ULL;

// The wall clock (CLOCK_REALTIME, as the kernel stamps packets), in ns since the epoch.
inline uint64_t realtime_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return uint64_t(ts.tv_sec) * kNsPerSec + uint64_t(ts.tv_nsec);
}

// CLOCK_MONOTONIC in ns: the clock of BPF programs (bpf_ktime_get_ns).
inline uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * kNsPerSec + uint64_t(ts.tv_nsec);
}

// `t` (seconds since the epoch) in ISO 8601, UTC: "2026-12-01T01:02:03Z".
inline std::string utc_iso8601(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace etcpipe
