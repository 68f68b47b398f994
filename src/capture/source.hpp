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
};

class PacketSource {
 public:
  virtual ~PacketSource() = default;
  // Fills `batch` (cleared first). Returns false when the source is exhausted; a true
  // return may still carry an empty batch (everything filtered).
  virtual bool next_batch(PacketBatch& batch) = 0;
  virtual const SourceStats& stats() const = 0;
  // Fraction of the input consumed, in [0, 1], for progress display; < 0 if unknown.
  virtual double progress() const { return -1.0; }
  // No batch holds a packet lent by the source any more, and no next_batch() follows: the
  // source may free what backed them (PcapFileSource unmaps its files).
  virtual void release() {}
};

}  // namespace etcpipe
