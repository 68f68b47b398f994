// Percentiles of a run's latencies (verdicts, enforcement), for summaries.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

namespace etcpipe {

// The p-th percentile of `values` (p in [0, 100], the nearest rank); 0 when there are none.
inline double percentile(std::vector<float> values, double p) {
  if (values.empty()) return 0;
  const auto k = std::size_t(std::clamp(p / 100.0, 0.0, 1.0) * double(values.size() - 1) + 0.5);
  std::nth_element(values.begin(), values.begin() + std::ptrdiff_t(k), values.end());
  return values[k];
}

}  // namespace etcpipe
