// The batch (sort + segmented scan) extractor on the CPU: batch_algorithm.hpp run by
// Thrust's CPP system over each selected batch, in the consumer thread.
#pragma once

#include <memory>

#include "features/extractor.hpp"

namespace etcpipe {

class BatchExtractor {
 public:
  // `workers` x `slots`: the flow ids it may see (each worker's table capacity).
  BatchExtractor(const FeatureSpec& spec, uint32_t rows, unsigned workers, uint32_t slots,
                 FeatureOutput& out);
  ~BatchExtractor();
  void add(const SelectedBatch& batch);
  void finish() { core_.hand_over(); }
  const ExtractStats& stats() const { return core_.stats(); }

 private:
  struct Arrays;
  ExtractorCore core_;  // rows, output, counters (its serial steps are not used)
  uint32_t slots_;
  std::unique_ptr<Arrays> a_;
};

}  // namespace etcpipe
