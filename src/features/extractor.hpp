// The feature extractors and what they share. Three extractors fill the same rows:
//  - ReferenceExtractor: serial, one packet at a time, flows found in a hash map, bytes
//    moved one at a time: the CPU baseline of the ETCpipe paper, for tests and benchmarks.
//  - StreamingExtractor: in the worker, at flow-table lookup time: the flow's slot is the
//    index of its state, bytes go straight from the captured packet into the row.
//  - BatchExtractor: the sort + segmented-scan algorithm (GPUFE) over a batch of selected
//    packets, on Thrust: CPU here, CUDA with -DETCPIPE_CUDA=ON.
// A flow's row is complete when its N-th selected packet arrives or the flow ends; it is
// then appended (with its statistics) to a FeatureBatch for the output.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string_view>

#include "features/rows.hpp"
#include "features/selected.hpp"

namespace etcpipe {

// Where batches of finished rows go: the dataset writer, the inference engine.
class FeatureSink {
 public:
  virtual ~FeatureSink() = default;
  virtual void write(const FeatureBatch& batch) = 0;
};

// Where an extractor appends finished rows. One virtual call per batch.
class FeatureOutput {
 public:
  virtual ~FeatureOutput() = default;
  virtual FeatureBatch* batch() = 0;  // with room for a row, or null (row dropped, counted)
  virtual void hand_over() = 0;       // passes on the current batch if it holds rows
  // The pool whose rows are lent to batches (FeatureBatch::lend): they go back to it when
  // their batch is back from the consumer.
  void set_lender(RowPool* pool) { lender_ = pool; }

 protected:
  // A batch back from the consumer: its lent rows go back to their pool; it is emptied.
  void reclaim(FeatureBatch& b);

 private:
  RowPool* lender_ = nullptr;
};

// Writes straight to a sink, in the calling thread.
class SinkOutput final : public FeatureOutput {
 public:
  SinkOutput(const FeatureSpec& spec, FeatureSink& sink) : batch_(spec), sink_(sink) {}
  FeatureBatch* batch() override;
  void hand_over() override;

 private:
  FeatureBatch batch_;
  FeatureSink& sink_;
};

// A worker's hand-off of finished rows to the consumer thread.
class FeatureRing final : public FeatureOutput {
 public:
  FeatureRing(const FeatureSpec& spec, uint32_t batches)
      : ring_(batches, [&] { return std::make_unique<FeatureBatch>(spec); }) {
    ring_.set_reclaim([this](FeatureBatch& b) { reclaim(b); });
  }
  FeatureBatch* batch() override { return ring_.current(); }
  void hand_over() override { ring_.hand_over(); }
  void set_lossless(std::function<void()> make_room) { ring_.set_lossless(std::move(make_room)); }
  FeatureBatch* take() { return ring_.take(); }
  void give_back(FeatureBatch* b) { ring_.give_back(b); }
  Backlog backlog() const { return ring_.backlog(); }

 private:
  HandoffRing<FeatureBatch> ring_;
};

struct ExtractStats {
  uint64_t packets = 0;         // selected packets written into rows
  uint64_t flows = 0;           // rows finished and handed on
  uint64_t rows_full = 0;       // flows not extracted: no free row when they started
  uint64_t output_dropped = 0;  // finished rows the output had no room for
  uint64_t late = 0;            // packets past the N-th of a flow (after lost copies)
  void add(const ExtractStats& o) {
    packets += o.packets;
    flows += o.flows;
    rows_full += o.rows_full;
    output_dropped += o.output_dropped;
    late += o.late;
  }
};

// Appends row r of `rows` (with its statistics) to the output, counted in `stats`.
// Returns false if the output had no room (counted). With `lend`, the row goes by reference
// (FeatureBatch::lend: finished in place, left untouched until its batch is back).
bool emit_row(FeatureOutput& out, const FeatureRows& rows, uint32_t r, ExtractStats& stats,
              bool lend = false);

enum class ExtractorKind : uint8_t { Reference, Streaming, Batch };
std::string_view extractor_name(ExtractorKind k);
ExtractorKind parse_extractor(std::string_view s);  // throws std::invalid_argument

// Per-flow extraction state of the serial extractors.
// What became of a flow's row when the flow ended.
enum class RowFate : uint8_t {
  Handed,   // handed to the output (or the flow had no selected packet)
  NoRow,    // none was free when the flow started
  Dropped,  // finished, but the output had no room (a live link's consumer behind)
};

struct RowState {
  static constexpr uint16_t kSkip = 0xFFFF;     // row finished early: ignore until the end
  static constexpr uint16_t kNoRow = 0xFFFE;    // no row could be had: ignore until the end
  static constexpr uint16_t kDropped = 0xFFFD;  // finished, but the output had no room
  uint16_t count = 0;                           // selected packets seen
  uint32_t row = 0;  // meaningful only while 0 < count < N: all-zero memory is a fresh state
};

// The rows, the output and the per-packet steps of the serial extractors.
class ExtractorCore {
 public:
  // With `lend`, finished rows go to the output by reference (finished in place, back to
  // the pool with their batch); otherwise they are copied into it.
  ExtractorCore(const FeatureSpec& spec, uint32_t rows, FeatureOutput& out, bool lend);

  // Appends packet p (bytes[0, avail)) to the flow whose state is st.
  template <class Copy>
  void packet(RowState& st, const DecodedPacket& p, const uint8_t* bytes, uint32_t avail,
              bool client, uint16_t worker, uint32_t slot, uint32_t generation, Copy&& copy);
  // The flow ended: a row with fewer than N packets is finished.
  // Returns what became of the flow's row.
  RowFate end(RowState& st);
  // Passes the partly filled output batch on (end of a source batch, end of input).
  void hand_over() { out_.hand_over(); }
  // Hands row r to the output (lent or copied and freed).
  // Hands a row to the output; false if it had no room (the row is dropped and counted).
  bool finish_row(uint32_t r);

  const FeatureSpec& spec() const { return spec_; }
  RowPool& pool() { return pool_; }
  ExtractStats& stats() { return stats_; }
  const ExtractStats& stats() const { return stats_; }

 private:
  FeatureSpec spec_;
  RowPool pool_;
  FeatureOutput& out_;
  bool lend_;
  ExtractStats stats_;
};

// Serial, per packet, flows in a hash map, a byte loop per packet: the baseline.
class ReferenceExtractor {
 public:
  ReferenceExtractor(const FeatureSpec& spec, uint32_t rows, FeatureOutput& out);
  ~ReferenceExtractor();
  void add(const SelectedBatch& batch);
  void finish() { core_.hand_over(); }
  const ExtractStats& stats() const { return core_.stats(); }

 private:
  struct Flows;
  ExtractorCore core_;
  std::unique_ptr<Flows> flows_;
};

// In the worker: state indexed by flow slot, bytes memcpy'd from the captured packet, finished
// rows lent to the consumer (no copy).
class StreamingExtractor {
 public:
  // `snaplen`: bytes of a packet it may read, as the consumer-side extractors get them.
  // `row_timeout_ns` (0: none): a row not complete this long (packet time) after its first
  // packet is finished as it is by expire(), and the flow's later packets are ignored.
  StreamingExtractor(const FeatureSpec& spec, uint32_t rows, uint32_t slots, uint16_t worker,
                     uint32_t snaplen, FeatureOutput& out, uint64_t row_timeout_ns = 0);
  void packet(const DecodedPacket& p, uint32_t slot, uint32_t generation, bool client,
              std::span<const uint8_t> b);
  RowFate end(uint32_t slot) { return core_.end(state_[slot]); }
  // Finishes the rows whose timeout has passed at packet time `now_ns`.
  void expire(uint64_t now_ns);
  // Every flow has ended (a time reset): the row timeouts queued are void, and would hold
  // back those of the rows to come, which start at earlier times.
  void forget_row_timeouts() { starts_.clear(); }
  void hand_over() { core_.hand_over(); }
  const ExtractStats& stats() const { return core_.stats(); }

 private:
  void time_out(RowState& st);  // finishes st's row as it is (its timeout passed)

  ExtractorCore core_;
  // By flow slot; pages are backed only as flows arrive, as the flow table's are.
  ZeroedPages<RowState> state_;
  uint16_t worker_;
  uint32_t snaplen_;
  uint64_t row_timeout_ns_;
  bool bypass_cache_;  // slots are written with non-temporal stores (large pools)
  // Rows by start time (a start per flow, not per packet): (first packet time, flow slot).
  // An entry whose row was finished otherwise is passed over when it comes due.
  std::deque<std::pair<uint64_t, uint32_t>> starts_;
};

}  // namespace etcpipe
