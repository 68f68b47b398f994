// The extractor that runs beside the workers, on the selected packets they copy: the
// reference extractor, or the batch extractor on a CUDA GPU where the build has CUDA and the
// machine a GPU, on the CPU otherwise. (The streaming extractor runs inside the workers
// instead: FlowPipelineConfig::streaming.)
#pragma once

#include <memory>
#include <string_view>

#include "features/extractor.hpp"

namespace etcpipe {

class ConsumerExtractor {
 public:
  virtual ~ConsumerExtractor() = default;
  virtual void add(const SelectedBatch& batch) = 0;  // one virtual call per batch
  // Hands over every row still in progress (the end of a run).
  virtual void finish() = 0;
  virtual ExtractStats stats() const = 0;
  virtual std::string_view device() const = 0;  // "cpu" or "cuda"
};

// The consumer-side extractor of `kind`, or nullptr for the streaming one. `workers` x
// `slots` are the flow ids it may see (each worker's table capacity: per_worker_capacity).
std::unique_ptr<ConsumerExtractor> make_consumer_extractor(ExtractorKind kind,
                                                           const FeatureSpec& spec, uint32_t rows,
                                                           unsigned workers, uint32_t slots,
                                                           FeatureOutput& out);

}  // namespace etcpipe
