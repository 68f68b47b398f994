// Packets held in memory, packed, replayed as batches that borrow their bytes (as from a
// capture ring, no copy): for benchmarks that must not measure packet generation or file
// reading. Records when the replay passes a mark and
// when it runs dry, so a benchmark can time only the part after a warm-up.
#pragma once

#include <chrono>
#include <vector>

#include "capture/source.hpp"

namespace etcpipe {

class MemorySource final : public PacketSource {
 public:
  // Reads `from` to its end into memory.
  explicit MemorySource(PacketSource& from);

  // The replay's clock starts when packet `index` is handed out.
  void set_mark(uint64_t index) { mark_ = index; }
  // Seconds from the mark to the moment the source ran dry; packets and bytes after it.
  double seconds_after_mark() const;
  uint64_t packets_after_mark() const {
    return refs_.size() - std::min<uint64_t>(mark_, refs_.size());
  }
  uint64_t wire_bytes_after_mark() const;
  std::size_t memory_bytes() const {
    return bytes_.capacity() + refs_.capacity() * sizeof(PacketRef);
  }

  bool next_batch(PacketBatch& batch) override;
  const SourceStats& stats() const override { return stats_; }
  double progress() const override {
    return refs_.empty() ? 1.0 : double(next_) / double(refs_.size());
  }

 private:
  std::vector<uint8_t> bytes_;
  std::vector<PacketRef> refs_;  // into bytes_
  int dlt_ = 1;
  uint64_t next_ = 0;
  uint64_t mark_ = 0;
  std::chrono::steady_clock::time_point marked_{}, dry_{};
  SourceStats stats_;
};

}  // namespace etcpipe
