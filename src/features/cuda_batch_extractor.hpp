// The batch extractor on a CUDA GPU: batch_algorithm.hpp run by Thrust's CUDA system on a
// stream of its own. Built with -DETCPIPE_CUDA=ON (nvcc); this header needs no CUDA.
//  - Everything is allocated once: device rows, per-flow state and scratch, pinned host
//    staging for the selected batches; Thrust's temporary storage comes from a device
//    arena of our own, so no cudaMalloc happens per batch.
//  - A batch goes to the device with one asynchronous copy of its entries and bytes; the
//    rows stay in device memory while they fill. The stream is synchronized once per batch
//    to learn which rows completed; those are copied back for the host output (the
//    inference engine will read them on the device instead).
#pragma once

#include <memory>
#include <vector>

#include "features/extractor.hpp"

namespace etcpipe {

class CudaBatchExtractor {
 public:
  // Whether a CUDA device can be used (false without a GPU or a driver).
  static bool available();

  CudaBatchExtractor(const FeatureSpec& spec, uint32_t rows, unsigned workers, uint32_t slots,
                     FeatureOutput& out);
  ~CudaBatchExtractor();
  CudaBatchExtractor(const CudaBatchExtractor&) = delete;
  CudaBatchExtractor& operator=(const CudaBatchExtractor&) = delete;

  void add(const SelectedBatch& batch);
  void finish() { out_.hand_over(); }
  const ExtractStats& stats() const { return stats_; }

 private:
  struct Device;
  FeatureSpec spec_;
  FeatureOutput& out_;
  uint32_t slots_;
  std::unique_ptr<Device> d_;
  FeatureRows staging_;         // completed rows copied back from the device
  std::vector<uint32_t> free_;  // free device rows, the next to take at the back
  ExtractStats stats_;
};

}  // namespace etcpipe
