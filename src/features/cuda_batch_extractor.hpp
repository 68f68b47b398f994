// The batch extractor on a CUDA GPU: batch_algorithm.hpp run by Thrust's CUDA system on a
// stream of its own. Built with -DETCPIPE_CUDA=ON (nvcc); this header needs no CUDA.
//  - Everything is allocated once: device rows, per-flow state and scratch, pinned host
//    staging for the selected batches; Thrust's temporary storage comes from a device
//    arena of our own, so no cudaMalloc happens per batch.
//  - Selected batches (of any worker) are staged in pinned memory and sent to the device
//    64 at a time (a launch: one asynchronous copy of their entries and bytes, the
//    algorithm's kernels, one synchronization to learn which rows completed), or at
//    finish(); the rows stay in device memory while they fill.
//  - Completed rows are gathered on the device into contiguous memory, copied back with one
//    copy per array, 1,024 rows at a time, and emitted to the host output.
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
  void finish();  // runs what is staged, emits its completed rows
  const ExtractStats& stats() const { return stats_; }

 private:
  struct Device;
  void launch();
  void copy_back(uint32_t rows);
  FeatureSpec spec_;
  FeatureOutput& out_;
  uint32_t slots_;
  std::unique_ptr<Device> d_;
  uint32_t staged_ = 0;           // selected packets staged for the next launch
  std::size_t staged_bytes_ = 0;  // and their bytes
  FeatureRows staging_;           // completed rows copied back from the device
  std::vector<uint32_t> free_;    // free device rows, the next to take at the back
  ExtractStats stats_;
};

}  // namespace etcpipe
