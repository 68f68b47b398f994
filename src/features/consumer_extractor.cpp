#include "features/consumer_extractor.hpp"

#include "features/batch_extractor.hpp"
#ifdef ETCPIPE_HAVE_CUDA
#include "features/cuda_batch_extractor.hpp"
#endif

namespace etcpipe {
namespace {

template <class Extractor>
class Held final : public ConsumerExtractor {
 public:
  template <class... Args>
  explicit Held(std::string_view device, Args&&... args)
      : x_(std::forward<Args>(args)...), device_(device) {}
  void add(const SelectedBatch& batch) override { x_.add(batch); }
  void finish() override { x_.finish(); }
  ExtractStats stats() const override { return x_.stats(); }
  std::string_view device() const override { return device_; }

 private:
  Extractor x_;
  std::string_view device_;
};

}  // namespace

std::unique_ptr<ConsumerExtractor> make_consumer_extractor(ExtractorKind kind,
                                                           const FeatureSpec& spec, uint32_t rows,
                                                           unsigned workers, uint32_t slots,
                                                           FeatureOutput& out) {
  switch (kind) {
    case ExtractorKind::Streaming: return nullptr;
    case ExtractorKind::Reference:
      return std::make_unique<Held<ReferenceExtractor>>("cpu", spec, rows, out);
    case ExtractorKind::Batch:
#ifdef ETCPIPE_HAVE_CUDA
      if (CudaBatchExtractor::available()) {
        return std::make_unique<Held<CudaBatchExtractor>>("cuda", spec, rows, workers, slots, out);
      }
#endif
      return std::make_unique<Held<BatchExtractor>>("cpu", spec, rows, workers, slots, out);
  }
  return nullptr;
}

}  // namespace etcpipe
