// Time in the pipeline: packet and wall times are nanoseconds in uint64_t.
#pragma once

#include <cstdint>

namespace etcpipe {

inline constexpr uint64_t kNsPerSec = 1'000'000'000ULL;

}  // namespace etcpipe
