// The two halves of per-packet work, and the single-threaded pipeline that chains them.
//  - PacketStage (near the source): decode every packet of a batch, attach later IP
//    fragments to their datagram's ports, count each packet's Outcome, and hand each
//    packet that belongs to a flow to the next stage. With several workers this runs in
//    the reader thread, which then hashes the tuple to pick the worker.
//  - FlowTable (per worker): account the packet to its flow, expire flows.
// Every packet gets exactly one Outcome.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "capture/bpf.hpp"
#include "capture/packet_batch.hpp"
#include "flow/flow_table.hpp"
#include "flow/fragment_tracker.hpp"
#include "packet/decoder.hpp"
#include "pipeline/selected.hpp"

namespace etcpipe {

struct FlowPipelineConfig {
  DecoderOptions decoder;
  FlowTableConfig table;
  std::string select_filter;                  // BPF expression selected packets must match
  uint32_t select_snaplen = 1600;             // bytes copied of each selected packet
  uint32_t selected_batches = 8;              // per worker, of 256 selected packets each
  uint32_t frag_slots = 4096;                 // fragment table entries (64 B each)
  uint64_t frag_timeout_ns = 30 * kNsPerSec;  // as Linux's ipfrag_time
};

class PacketStage {
 public:
  explicit PacketStage(const FlowPipelineConfig& cfg);

  // Decodes `batch` and calls emit(const DecodedPacket&, uint32_t index) for each packet
  // that belongs to a flow, in arrival order (index: the packet's place in the batch).
  template <class Emit>
  void process(const PacketBatch& batch, Emit&& emit);

  const OutcomeCounts& outcomes() const { return outcomes_; }
  const FragmentStats& fragment_stats() const { return frags_.stats(); }
  uint64_t decapsulated() const { return decapsulated_; }
  uint64_t now_ns() const { return now_ns_; }  // latest packet time seen

 private:
  DecoderOptions decoder_;
  FragmentTracker frags_;
  BpfMatcher select_filter_;
  std::array<DecodedPacket, PacketBatch::kCapacity> decoded_;
  std::array<Outcome, PacketBatch::kCapacity> outcome_;
  OutcomeCounts outcomes_{};
  uint64_t decapsulated_ = 0;
  uint64_t now_ns_ = 0;
};

template <class Emit>
void PacketStage::process(const PacketBatch& batch, Emit&& emit) {
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
    now_ns_ = std::max(now_ns_, p.ts_ns);
    if (select_filter_.active()) p.select_match = select_filter_.match(batch, i);
    emit(p, i);
  }
}

// A worker's half: the flow table and the copies of selected packets.
class FlowStage {
 public:
  FlowStage(const FlowPipelineConfig& cfg, uint16_t worker)
      : table_(cfg.table), selected_(worker, cfg.select_snaplen, cfg.selected_batches) {}

  // Accounts packets[i] (whose bytes are bytes(i)) to their flows, in order.
  template <class Bytes>
  void add(std::span<const DecodedPacket* const> packets, Bytes&& bytes) {
    table_.add_batch(packets, [&](std::size_t i, const FlowUpdate& u) {
      if (u.selection == Selection::Selected) selected_.add(*packets[i], u, bytes(i));
    });
  }
  // Timeouts at packet time `now_ns`; hands the partly filled selected batch over.
  void expire(uint64_t now_ns) {
    table_.expire(now_ns);
    selected_.hand_over();
  }
  void flush() {
    table_.flush();
    selected_.hand_over();
  }
  FlowTable& table() { return table_; }
  SelectedRing& selected() { return selected_; }

 private:
  FlowTable table_;
  SelectedRing selected_;
};

// Both stages in the calling thread: the one-worker pipeline.
class FlowPipeline {
 public:
  explicit FlowPipeline(const FlowPipelineConfig& cfg) : stage_(cfg), flows_(cfg, 0) {}

  void process(const PacketBatch& batch) {
    uint32_t n = 0;
    stage_.process(batch, [&](const DecodedPacket& p, uint32_t i) {
      packets_[n] = &p;
      index_[n++] = i;
    });
    flows_.add(std::span(packets_.data(), n),
               [&](std::size_t k) { return batch.bytes(index_[k]); });
    flows_.expire(stage_.now_ns());
  }
  // Ends every flow still open (end of input or shutdown).
  void flush() { flows_.flush(); }

  // Records of the flows that ended since the caller last cleared it.
  std::vector<FlowRecord>& finished() { return flows_.table().finished(); }
  const PacketStage& packet_stage() const { return stage_; }
  FlowStage& flow_stage() { return flows_; }

 private:
  PacketStage stage_;
  FlowStage flows_;
  std::array<const DecodedPacket*, PacketBatch::kCapacity> packets_{};
  std::array<uint32_t, PacketBatch::kCapacity> index_{};
};

}  // namespace etcpipe
