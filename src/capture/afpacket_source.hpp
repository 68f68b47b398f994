// Live capture from network interfaces through AF_PACKET TPACKET_V3 block rings.
//
// One AfPacketSource per worker, read by that worker's thread only. It holds one socket per
// interface; with several workers, the sockets of an interface form one PACKET_FANOUT group
// spread by the kernel's symmetric flow hash (both directions of a flow reach the same
// worker), with the defrag flag: the kernel reassembles IPv4 fragments before hashing, so
// a datagram's fragments reach its flow's worker, as one packet (a datagram never completed
// is lost in the kernel, uncounted). One worker is a group of one, so that counts do not
// depend on the number of workers. IPv6 fragments are hashed on their addresses and may
// reach another worker than their flow. The ring size (--ring-mb) is the interface's,
// shared by its workers' sockets. The BPF expression is compiled
// for the interface's link type and attached to the sockets (SO_ATTACH_FILTER): packets it rejects
// never leave the kernel, and are not counted.
//
// Packets are lent from the ring, not copied, and stay valid until the next next_batch() or
// release(): a ring block goes back to the kernel when the worker comes back for more.
// (A VLAN tag the kernel took out of the frame is put back in a copy.) Time is the kernel's
// receive timestamp. On a quiet link next_batch() waits in poll() and returns an empty batch
// about every 100 ms with quiet_ns() set, so that flows still end on their timeouts.
// When enforcing (LiveCaptureConfig::socket_filter_fd), etcpipe's eBPF socket filter takes
// the place of the expression's (which runs in user space, its rejects counted as filtered)
// and keeps the packets of flows XDP bypasses, and outgoing packets, out of the ring.
// Packets the kernel dropped because the ring was full (PACKET_STATISTICS) are counted in
// SourceStats::kernel_drops.
#pragma once

#include <poll.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "capture/live_capture.hpp"
#include "capture/source.hpp"

namespace etcpipe {

class AfPacketSource final : public PacketSource {
 public:
  // Opens the sockets of every worker: all or none. Throws std::runtime_error with a
  // one-line reason (no privilege, no such interface, interface down, link type not
  // supported, filter that does not compile, ring refused).
  static std::vector<std::unique_ptr<PacketSource>> open(const LiveCaptureConfig& cfg,
                                                         unsigned workers);
  ~AfPacketSource() override;

  bool next_batch(PacketBatch& batch) override;
  const SourceStats& stats() const override { return stats_; }
  uint64_t quiet_ns() const override { return quiet_ns_; }
  void release() override;

  struct Ring;  // one socket and its mapped ring

 private:
  explicit AfPacketSource(LiveLimits limits);
  bool end();  // the input is over: the last kernel counters; returns false
  bool fill(Ring& ring, PacketBatch& batch);
  void give_back_blocks();
  void read_kernel_stats();

  std::vector<std::unique_ptr<Ring>> rings_;
  std::size_t next_ring_ = 0;  // where the round robin over rings starts
  LiveLimits limits_;
  std::vector<pollfd> fds_;
  bool ended_ = false;
  uint64_t quiet_ns_ = 0;
  uint32_t blocks_since_stats_ = 0;
  SourceStats stats_;
};

}  // namespace etcpipe
