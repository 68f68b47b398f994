// The two halves of per-packet work, and the single-threaded pipeline that chains them.
//  - PacketStage (near the source): decode every packet of a batch, attach later IP
//    fragments to their datagram's ports, count each packet's Outcome, and hand each
//    packet that belongs to a flow to the next stage. For a split source (files, W > 1)
//    this runs in the splitter, which then hashes the tuple to pick the worker.
//  - FlowTable (per worker): account the packet to its flow, expire flows.
// Every packet gets exactly one Outcome.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "capture/bpf.hpp"
#include "capture/packet_batch.hpp"
#include "features/extractor.hpp"
#include "features/selected.hpp"
#include "flow/flow_table.hpp"
#include "flow/fragment_tracker.hpp"
#include "packet/decoder.hpp"

namespace etcpipe {

struct FlowPipelineConfig {
  DecoderOptions decoder;
  FlowTableConfig table;
  std::string select_filter;                  // BPF expression selected packets must match
  uint32_t select_snaplen = 1600;             // bytes copied of each selected packet
  uint32_t selected_batches = 8;              // per worker, of 256 selected packets each
  uint32_t frag_slots = 4096;                 // fragment table entries (64 B each)
  uint64_t frag_timeout_ns = 30 * kNsPerSec;  // as Linux's ipfrag_time
  // Streaming feature extraction in each worker.
  std::optional<FeatureSpec> streaming;
  // Selected packets are copied into selected batches, for a consumer-side extractor or a
  // pcap: output. run_flows() sets it from RunOptions::on_selected: no copies nobody reads.
  bool copy_selected = true;
  // Streaming rows not complete this long after their first packet are finished as they
  // are (0: they wait for their N-th packet or the flow's end).
  uint64_t row_timeout_ns = 0;
  // Rows of the streaming extractor, per worker; 0: one for every flow-table slot and every
  // row a finished-row batch can hold, so that no flow goes without one (their memory is
  // touched only as rows are used).
  uint32_t feature_rows = 0;
  uint32_t feature_batches = 16;  // finished-row batches per worker
};

class PacketStage {
 public:
  explicit PacketStage(const FlowPipelineConfig& cfg);

  // Decodes `batch` and calls emit(const DecodedPacket&, uint32_t index) for each packet
  // that belongs to a flow, in arrival order (index: the packet's place in the batch).
  // Before a packet more than the shortest flow timeout older than the latest packet time
  // (captures out of time order), calls time_reset(latest packet time): every flow is to
  // end there, and the clock restarts at that packet. Otherwise which flows the older
  // packets join would depend on how far each table's sweep had got, and so on W.
  template <class Emit, class TimeReset>
  void process(const PacketBatch& batch, Emit&& emit, TimeReset&& time_reset);

  const OutcomeCounts& outcomes() const { return outcomes_; }
  const FragmentStats& fragment_stats() const { return frags_.stats(); }
  uint64_t decapsulated() const { return decapsulated_; }
  uint64_t now_ns() const { return now_ns_; }  // latest packet time seen (since a reset)

 private:
  DecoderOptions decoder_;
  uint64_t reset_after_ns_;  // the shortest flow timeout (0: none, time never resets)
  FragmentTracker frags_;
  BpfMatcher select_filter_;
  std::array<DecodedPacket, PacketBatch::kCapacity> decoded_;
  std::array<Outcome, PacketBatch::kCapacity> outcome_;
  OutcomeCounts outcomes_{};
  uint64_t decapsulated_ = 0;
  uint64_t now_ns_ = 0;
};

template <class Emit, class TimeReset>
void PacketStage::process(const PacketBatch& batch, Emit&& emit, TimeReset&& time_reset) {
  const uint32_t n = batch.size();
  for (uint32_t i = 0; i < n; ++i) {  // stage 1: decode the whole batch
    const PacketRef& ref = batch.ref(i);
    decoded_[i].ts_ns = ref.ts_ns;
    outcome_[i] = decode_packet(batch.dlt, batch.bytes(i), ref.wire_len, decoder_, decoded_[i]);
  }
  for (uint32_t i = 0; i < n; ++i) {  // stage 2: fragments, then flows, in arrival order
    DecodedPacket& p = decoded_[i];
    Outcome o = outcome_[i];
    if (o == Outcome::Ok) {
      if (p.frag == FragKind::First) {
        frags_.on_first(p);
      } else if (p.frag == FragKind::Later && !frags_.on_later(p)) {
        o = Outcome::FragmentWithoutFirst;
      }
    }
    ++outcomes_[static_cast<std::size_t>(o)];
    if (o != Outcome::Ok) continue;
    if (p.tuple.tunnel != TunnelType::None) ++decapsulated_;
    if (reset_after_ns_ != 0 && p.ts_ns < now_ns_ && now_ns_ - p.ts_ns > reset_after_ns_) {
      time_reset(now_ns_);
      now_ns_ = p.ts_ns;
    }
    now_ns_ = std::max(now_ns_, p.ts_ns);
    if (select_filter_.active()) p.select_match = select_filter_.match(batch, i);
    emit(p, i);
  }
}

// A worker's half: the flow table, and what becomes of selected packets: copies for a
// consumer-side extractor, or rows filled right here by the streaming extractor. Flows that
// end are told to the extractor in order with the packets (a slot may be reused at once).
class FlowStage {
 public:
  FlowStage(const FlowPipelineConfig& cfg, uint16_t worker);

  // Accounts packets[i] (whose bytes are bytes(i)) to their flows, in order.
  template <class Bytes>
  void add(std::span<const DecodedPacket* const> packets, Bytes&& bytes) {
    table_.add_batch(packets, [&](std::size_t i, const FlowUpdate& u) {
      report_ends();  // a flow evicted to make room comes before the packet that did it
      if (u.selection != Selection::Selected) return;
      const uint32_t generation = table_.generation(u.slot);
      if (streaming_) streaming_->packet(*packets[i], u.slot, generation, u.from_client, bytes(i));
      if (copy_selected_) selected_.add(*packets[i], u, generation, bytes(i));
    });
  }
  // Timeouts at packet time `now_ns`; hands partly filled batches over.
  void expire(uint64_t now_ns) {
    // Rows first: a row due before its flow's idle timeout is finished as timed out even
    // when a gap in the traffic brings both due in one sweep.
    if (streaming_) streaming_->expire(now_ns);
    table_.expire(now_ns);
    hand_over();
  }
  // Ends every flow, or at most `max_ends` (FlowTable::flush): end of input, or a time reset
  // (see PacketStage::process). Returns true when none is left.
  bool flush(EndReason forced = EndReason::EndOfInput,
             std::size_t max_ends = std::numeric_limits<std::size_t>::max()) {
    const bool done = table_.flush(forced, max_ends);
    hand_over();
    if (done && streaming_) streaming_->forget_row_timeouts();  // their rows ended with the flows
    return done;
  }
  // Makes the hand-offs to the consumer wait, calling `make_room`, instead of dropping
  // copies and rows when no batch is free (file input).
  void set_lossless(const std::function<void()>& make_room);
  // Moves the records of the flows that ended into `out` (cleared first).
  void take_finished(std::vector<FlowRecord>& out);

  FlowTable& table() { return table_; }
  SelectedRing& selected() { return selected_; }
  FeatureRing* features() { return features_ ? &*features_ : nullptr; }
  // The larger backlog of the two rings.
  Backlog backlog() const {
    return std::max(selected_.backlog(), features_ ? features_->backlog() : Backlog::None);
  }
  ExtractStats extract_stats() const { return streaming_ ? streaming_->stats() : ExtractStats{}; }

 private:
  void report_ends();
  void hand_over();

  uint16_t worker_;
  bool copy_selected_;  // selected packets are copied into selected batches
  FlowTable table_;
  SelectedRing selected_;
  std::optional<FeatureRing> features_;
  std::optional<StreamingExtractor> streaming_;
  std::size_t reported_ = 0;  // records in table_.finished() already told to the extractor
};

// Both stages in one thread: a worker that reads its own source (the one worker of a run,
// or one of the workers of a live capture, each with its own queue).
class FlowPipeline {
 public:
  explicit FlowPipeline(const FlowPipelineConfig& cfg, uint16_t worker = 0)
      : stage_(cfg), flows_(cfg, worker) {}

  void process(const PacketBatch& batch) {
    uint32_t n = 0;
    const auto add = [&] {
      flows_.add(std::span(packets_.data(), n),
                 [&](std::size_t k) { return batch.bytes(index_[k]); });
      n = 0;
    };
    stage_.process(
        batch,
        [&](const DecodedPacket& p, uint32_t i) {
          packets_[n] = &p;
          index_[n++] = i;
        },
        [&](uint64_t before_ns) {  // as the workers do with a time-reset item
          add();
          flows_.expire(before_ns);
          flows_.flush(EndReason::TimeReset);
        });
    add();
    flows_.expire(stage_.now_ns());
  }
  // No packet came, but every packet stamped before `now_ns` has (a quiet live link): flows
  // end by the clock.
  void expire(uint64_t now_ns) { flows_.expire(std::max(now_ns, stage_.now_ns())); }
  // Ends every flow still open (end of input, or Interrupted for a run stopped early), or at
  // most `max_ends` of them; true when none is left.
  bool flush(EndReason forced = EndReason::EndOfInput,
             std::size_t max_ends = std::numeric_limits<std::size_t>::max()) {
    return flows_.flush(forced, max_ends);
  }

  // Records of the flows that ended since the last call.
  std::vector<FlowRecord>& finished() {
    flows_.take_finished(finished_);
    return finished_;
  }
  const PacketStage& packet_stage() const { return stage_; }
  FlowStage& flow_stage() { return flows_; }
  const FlowStage& flow_stage() const { return flows_; }

 private:
  PacketStage stage_;
  FlowStage flows_;
  std::array<const DecodedPacket*, PacketBatch::kCapacity> packets_{};
  std::array<uint32_t, PacketBatch::kCapacity> index_{};
  std::vector<FlowRecord> finished_;
};

}  // namespace etcpipe
