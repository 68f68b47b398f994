#include "features/extractor.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <unordered_map>

#include "features/packet_row.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace etcpipe {

namespace {
// Copies into a row slot that nobody reads before the row is finished: the whole cache
// lines of the destination with non-temporal stores, which write memory without first
// reading the line into the cache (the rows of 4,096 concurrent flows of [10 x 1000] are
// 40 MB of cold lines), the partial lines at either end with ordinary stores. Non-temporal
// stores are weakly ordered: fence_rows() orders them before a row is read or published.
void copy_to_row(uint8_t* dst, const uint8_t* src, uint32_t len) {
#if defined(__SSE2__)
  const auto addr = reinterpret_cast<uintptr_t>(dst);
  const uint32_t head = std::min<uint32_t>(len, uint32_t((64 - (addr & 63)) & 63));
  std::memcpy(dst, src, head);
  uint32_t i = head;
  for (; i + 64 <= len; i += 64) {
    auto* d = reinterpret_cast<__m128i*>(dst + i);
    const auto* s = reinterpret_cast<const __m128i*>(src + i);
    const __m128i a = _mm_loadu_si128(s), b = _mm_loadu_si128(s + 1);
    const __m128i c = _mm_loadu_si128(s + 2), e = _mm_loadu_si128(s + 3);
    _mm_stream_si128(d, a);
    _mm_stream_si128(d + 1, b);
    _mm_stream_si128(d + 2, c);
    _mm_stream_si128(d + 3, e);
  }
  std::memcpy(dst + i, src + i, len - i);
#else
  std::memcpy(dst, src, len);
#endif
}

// Whether a pool's matrix is far larger than this core's L2 cache (8x): then a slot's lines
// are gone from the caches by the time its flow's next packet comes, and writing around
// them with non-temporal stores pays; for a pool that fits, it costs (docs/PERFORMANCE.md
// has both).
bool rows_exceed_cache(const FeatureRows& rows) {
  long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
  if (l2 <= 0) l2 = 1 << 20;
  return uint64_t{rows.capacity()} * rows.row_bytes() > 8 * uint64_t(l2);
}

void fence_rows() {
#if defined(__SSE2__)
  _mm_sfence();
#endif
}
}  // namespace

FeatureBatch* SinkOutput::batch() {
  if (batch_.full()) hand_over();
  return &batch_;
}

void SinkOutput::hand_over() {
  if (batch_.size() == 0) return;
  sink_.write(batch_);
  reclaim(batch_);
}

void FeatureOutput::reclaim(FeatureBatch& b) {
  if (lender_ != nullptr) {
    for (uint32_t k = 0; k < b.size(); ++k) {
      if (&b.rows(k) == &lender_->rows()) lender_->release(b.row(k));
    }
  }
  b.clear();
}

std::string_view extractor_name(ExtractorKind k) {
  switch (k) {
    case ExtractorKind::Reference: return "reference";
    case ExtractorKind::Streaming: return "streaming";
    case ExtractorKind::Batch: return "batch";
  }
  return "streaming";
}

ExtractorKind parse_extractor(std::string_view s) {
  for (auto k : {ExtractorKind::Reference, ExtractorKind::Streaming, ExtractorKind::Batch}) {
    if (extractor_name(k) == s) return k;
  }
  throw std::invalid_argument("extractor must be reference, streaming or batch, not '" +
                              std::string(s) + "'");
}

ExtractorCore::ExtractorCore(const FeatureSpec& spec, uint32_t rows, FeatureOutput& out, bool lend)
    : spec_(spec), pool_(spec, rows), out_(out), lend_(lend) {
  if (lend) out.set_lender(&pool_);
}

bool emit_row(FeatureOutput& out, const FeatureRows& rows, uint32_t r, ExtractStats& stats,
              bool lend) {
  FeatureBatch* b = out.batch();
  if (b == nullptr) {
    ++stats.output_dropped;
    return false;
  }
  if (lend) {
    b->lend(rows, r);
  } else {
    b->append(rows, r);
  }
  ++stats.flows;
  if (b->full()) out.hand_over();
  return true;
}

bool ExtractorCore::finish_row(uint32_t r) {
  if (lend_) {
    fence_rows();  // the streaming copies reach memory before the row is read or handed on
    finish_in_place(pool_.rows(), r);
  }
  // A lent row goes back to the pool with its batch; a copied or dropped one at once.
  const bool handed = emit_row(out_, pool_.rows(), r, stats_, lend_);
  if (!handed || !lend_) pool_.release(r);
  return handed;
}

template <class Copy>
void ExtractorCore::packet(RowState& st, const DecodedPacket& p, const uint8_t* bytes,
                           uint32_t avail, bool client, uint16_t worker, uint32_t slot,
                           uint32_t generation, Copy&& copy) {
  if (st.count == RowState::kSkip || st.count == RowState::kNoRow ||
      st.count == RowState::kDropped) {
    return;
  }
  if (st.count >= spec_.packets) {
    ++stats_.late;
    return;
  }
  FeatureRows& rows = pool_.rows();
  const RowsView v = view_of(rows);
  if (st.count == 0) {
    st.row = pool_.alloc();
    if (st.row == RowPool::kNoRow) {
      st.count = RowState::kNoRow;
      ++stats_.rows_full;
      return;
    }
    start_row(v, st.row, p, client, worker, slot, generation);
  }
  FlowInfo& info = rows.info(st.row);
  write_packet(spec_, v, st.row, st.count, p, bytes, avail, client, info.last_ns, copy);
  info.last_ns = p.ts_ns;
  info.packets = ++st.count;
  ++stats_.packets;
  if (st.count == spec_.packets && !finish_row(st.row)) st.count = RowState::kDropped;
}

RowFate ExtractorCore::end(RowState& st) {
  RowFate fate = st.count == RowState::kNoRow     ? RowFate::NoRow
                 : st.count == RowState::kDropped ? RowFate::Dropped
                                                  : RowFate::Handed;
  if (st.count > 0 && st.count < spec_.packets && !finish_row(st.row)) fate = RowFate::Dropped;
  st = RowState{};
  return fate;
}

// ---- reference ---------------------------------------------------------------------------

struct ReferenceExtractor::Flows {
  std::unordered_map<uint64_t, RowState> by_id;  // key: worker << 32 | slot
};

ReferenceExtractor::ReferenceExtractor(const FeatureSpec& spec, uint32_t rows, FeatureOutput& out)
    : core_(spec, rows, out, false), flows_(std::make_unique<Flows>()) {}

ReferenceExtractor::~ReferenceExtractor() = default;

void ReferenceExtractor::add(const SelectedBatch& batch) {
  const auto byte_loop = [](uint8_t* dst, const uint8_t* src, uint32_t len) {
    for (uint32_t i = 0; i < len; ++i) dst[i] = src[i];
  };
  for (uint32_t i = 0; i < batch.size(); ++i) {
    const SelectedPacket& s = batch.packet(i);
    const uint64_t id = uint64_t{batch.worker} << 32 | s.slot;
    if (s.end) {
      auto it = flows_->by_id.find(id);
      if (it != flows_->by_id.end()) {
        core_.end(it->second);
        flows_->by_id.erase(it);
      }
      continue;
    }
    core_.packet(flows_->by_id[id], s.meta, batch.bytes(i).data(), s.copied, s.from_client,
                 batch.worker, s.slot, s.generation, byte_loop);
  }
  core_.hand_over();
}

// ---- streaming ---------------------------------------------------------------------------

StreamingExtractor::StreamingExtractor(const FeatureSpec& spec, uint32_t rows, uint32_t slots,
                                       uint16_t worker, uint32_t snaplen, FeatureOutput& out,
                                       uint64_t row_timeout_ns)
    : core_(spec, rows, out, true),
      state_(std::size_t{slots} + 1, false, "the streaming extractor's flow states"),
      worker_(worker),
      snaplen_(snaplen),
      row_timeout_ns_(row_timeout_ns),
      bypass_cache_(rows_exceed_cache(core_.pool().rows())) {}

void StreamingExtractor::packet(const DecodedPacket& p, uint32_t slot, uint32_t generation,
                                bool client, std::span<const uint8_t> b) {
  RowState& st = state_[slot];
  // A row whose timeout passed before this packet is finished without it, as a timer would
  // have done between the two (expire() runs once a source batch, which can span it).
  if (row_timeout_ns_ != 0 && st.count > 0 && st.count < core_.spec().packets &&
      p.ts_ns >= core_.pool().rows().info(st.row).first_ns + row_timeout_ns_) {
    time_out(st);
    return;
  }
  const bool starts = st.count == 0;
  // Rows with headers are patched (anonymized) right after the copy: fence first.
  const bool patched = core_.spec().start != ByteStart::Payload;
  core_.packet(st, p, b.data(), std::min(static_cast<uint32_t>(b.size()), snaplen_), client,
               worker_, slot, generation, [&](uint8_t* dst, const uint8_t* src, uint32_t len) {
                 if (!bypass_cache_) {
                   std::memcpy(dst, src, len);
                   return;
                 }
                 copy_to_row(dst, src, len);
                 if (patched) fence_rows();
               });
  if (row_timeout_ns_ != 0 && starts && st.count == 1 && core_.spec().packets > 1) {
    starts_.emplace_back(p.ts_ns, slot);
  }
}

void StreamingExtractor::expire(uint64_t now_ns) {
  const uint32_t n = core_.spec().packets;
  FeatureRows& rows = core_.pool().rows();
  while (!starts_.empty() && starts_.front().first + row_timeout_ns_ <= now_ns) {
    const auto [first, flow] = starts_.front();
    starts_.pop_front();
    RowState& st = state_[flow];
    // Still the row that entry was made for, and not complete.
    if (st.count == 0 || st.count >= n || rows.info(st.row).first_ns != first) continue;
    time_out(st);
  }
}

void StreamingExtractor::time_out(RowState& st) {
  core_.pool().rows().info(st.row).timed_out = 1;
  // Its later packets are ignored, its end emits nothing.
  st.count = core_.finish_row(st.row) ? RowState::kSkip : RowState::kDropped;
}

}  // namespace etcpipe
