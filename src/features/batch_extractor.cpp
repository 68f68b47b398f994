#include "features/batch_extractor.hpp"

#include <thrust/system/cpp/execution_policy.h>

#include <vector>

#include "features/batch_algorithm.hpp"

namespace etcpipe {

struct BatchExtractor::Arrays {
  // Per-flow state in reserved pages (backed as flows arrive); all zero is "no flow" (a
  // row index is read only while 0 < count < N).
  Arrays(std::size_t flows, std::size_t items)
      : count(flows, false, "the batch extractor's flow states"),
        row(flows, false, "the batch extractor's flow states"),
        key(items),
        per_item(batch::kScratchArrays * items) {}
  ZeroedPages<uint16_t> count;
  ZeroedPages<uint32_t> row;
  std::vector<uint64_t> key;
  std::vector<uint32_t> per_item;

  batch::Scratch scratch(std::size_t items) {
    return batch::scratch_layout(key.data(), per_item.data(), items);
  }
};

BatchExtractor::BatchExtractor(const FeatureSpec& spec, uint32_t rows, unsigned workers,
                               uint32_t slots, FeatureOutput& out)
    : core_(spec, rows, out, false),
      slots_(slots),
      a_(std::make_unique<Arrays>(std::size_t{workers} * (std::size_t{slots} + 1),
                                  SelectedBatch::kCapacity)) {}

BatchExtractor::~BatchExtractor() = default;

void BatchExtractor::add(const SelectedBatch& b) {
  const uint32_t n = b.size();
  if (n == 0) return;
  const batch::Items in{&b.packet(0), b.arena(), n, b.worker * (slots_ + 1), b.worker};
  const batch::FlowState st{a_->count.get(), a_->row.get()};
  const batch::Scratch s = a_->scratch(SelectedBatch::kCapacity);
  FeatureRows& rows = core_.pool().rows();
  const batch::Rows r{view_of(rows), core_.spec()};
  std::vector<uint32_t>& free_rows = core_.pool().free_list(n);
  const auto free_n = static_cast<uint32_t>(free_rows.size());
  batch::extract_batch(thrust::cpp::par, in, st, s, r, free_rows.data(), free_n);

  const uint32_t needed = s.alloc[n - 1] + s.need[n - 1];
  const uint32_t taken = std::min(needed, free_n);
  free_rows.resize(free_n - taken);
  ExtractStats& stats = core_.stats();
  stats.rows_full += needed - taken;
  for (uint32_t j = 0; j < n; ++j) {
    stats.packets += s.written[j];
    stats.late += s.late[j];
    if (s.done_row[j] != batch::kNoRow) core_.finish_row(s.done_row[j]);
  }
  core_.hand_over();
}

}  // namespace etcpipe
