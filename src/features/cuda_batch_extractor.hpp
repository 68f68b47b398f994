// The batch extractor on a CUDA GPU: batch_algorithm.hpp run by Thrust's CUDA system on a
// stream of its own. Built with -DETCPIPE_CUDA=ON (nvcc); this header needs no CUDA.
//  - Everything is allocated once: device rows, per-flow state and scratch, pinned host
//    staging for the selected batches; Thrust's temporary storage comes from a device
//    arena of our own, so no cudaMalloc happens per batch.
//  - Selected batches (of any worker) are staged in pinned memory and sent to the device
//    64 at a time (a launch: one asynchronous copy of their entries and bytes, the
//    algorithm's kernels, one synchronization to learn which rows completed), sooner when
//    the flows they start would outnumber the free rows (a launch frees its completed rows
//    at its end), and at finish(); the rows stay in device memory while they fill.
//  - Completed rows are gathered on the device into contiguous memory (padded), copied back
//    with one copy per array, 1,024 rows at a time, and emitted to the host output; or,
//    with set_device_rows(), handed where they are to a consumer on the same GPU (the
//    TorchScript engine on CUDA: Engine::infer_device), only their FlowInfo copied back.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "features/extractor.hpp"
#include "features/packet_row.hpp"

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

  // Completed rows go to `f` in device memory (valid during the call; their statistics are
  // not computed), with their FlowInfo in host memory, instead of to the output.
  using DeviceRows = std::function<void(const RowsView& rows, const FlowInfo* info, uint32_t n)>;
  void set_device_rows(DeviceRows f) { device_rows_ = std::move(f); }

  void add(const SelectedBatch& batch);
  void finish();  // runs what is staged, emits its completed rows
  const ExtractStats& stats() const { return stats_; }

 private:
  struct Device;
  void launch();
  void copy_back(uint32_t rows);
  void restore_flow(FlowInfo& info) const;  // worker and slot from the staged flow id
  FeatureSpec spec_;
  FeatureOutput& out_;
  uint32_t slots_;
  std::unique_ptr<Device> d_;
  uint32_t staged_ = 0;           // selected packets staged for the next launch
  std::size_t staged_bytes_ = 0;  // and their bytes
  uint32_t staged_starts_ = 0;    // and the flows they start (each takes a row)
  FeatureRows staging_;           // completed rows copied back from the device
  std::vector<uint32_t> free_;    // free device rows, the next to take at the back
  ExtractStats stats_;
  DeviceRows device_rows_;
};

}  // namespace etcpipe
