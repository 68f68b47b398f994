// The source interface. Everything after the source sees only PacketBatch, so pcap files,
// AF_PACKET, AF_XDP, DPDK and generated traffic plug in without touching later stages.
// One virtual call per batch, none per packet.
#pragma once

#include <cstdint>
#include <string>

#include "capture/packet_batch.hpp"

namespace etcpipe {

struct SourceStats {
  uint64_t packets = 0;      // every packet read from the source, filtered or not
  uint64_t bytes = 0;        // their wire lengths
  uint64_t filtered = 0;     // rejected by the BPF expression
  uint64_t read_errors = 0;  // inputs that ended early (truncated file, I/O error)
  // Live capture: packets the kernel dropped before etcpipe saw them (its ring was full),
  // and how often it found the ring full. Received = packets + kernel_drops.
  uint64_t kernel_drops = 0;
  uint64_t ring_freezes = 0;

  void add(const SourceStats& o) {
    packets += o.packets;
    bytes += o.bytes;
    filtered += o.filtered;
    read_errors += o.read_errors;
    kernel_drops += o.kernel_drops;
    ring_freezes += o.ring_freezes;
  }
};

class PacketSource {
 public:
  virtual ~PacketSource() = default;
  // Fills `batch` (cleared first). Returns false when the source is exhausted; a true
  // return may still carry an empty batch (everything filtered, or a quiet live link).
  // Packets lent to the batch stay valid until the next call of a live source (its ring is
  // reused), until release() for files and memory.
  virtual bool next_batch(PacketBatch& batch) = 0;
  virtual const SourceStats& stats() const = 0;
  // Fraction of the input consumed, in [0, 1], for progress display; < 0 if unknown.
  virtual double progress() const { return -1.0; }
  // A live source, after an empty batch: every packet stamped before this time (ns since
  // the epoch) has been delivered, so flows may end by the clock up to it. 0 otherwise.
  virtual uint64_t quiet_ns() const { return 0; }
  // No batch holds a packet lent by the source any more, and no next_batch() follows: the
  // source may free what backed them (PcapFileSource unmaps its files).
  virtual void release() {}
};

}  // namespace etcpipe
