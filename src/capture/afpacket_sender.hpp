// Transmits packets on an interface through an AF_PACKET TX ring (TPACKET_V2), at a given
// rate or as fast as the ring drains: `etcpipe gen --send`, so that tests and benchmarks
// need no third tool. Frames are sent as captured (caplen bytes); those longer than the
// interface takes (its MTU plus the Ethernet header) are left out and counted.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "capture/packet_batch.hpp"

namespace etcpipe {

class AfPacketSender {
 public:
  // `max_frame`: the largest frame to send. `rate_pps` 0: as fast as possible. Throws
  // std::runtime_error with a one-line reason (privilege, interface missing or down).
  AfPacketSender(const std::string& iface, uint32_t max_frame, double rate_pps);
  ~AfPacketSender();
  AfPacketSender(const AfPacketSender&) = delete;
  AfPacketSender& operator=(const AfPacketSender&) = delete;

  // Queues the batch's packets, at the rate; waits while the ring is full.
  void send(const PacketBatch& batch);
  // Waits until every queued frame has left; returns the frames the kernel refused after
  // taking them (counted in packets() too).
  uint64_t finish();

  uint64_t packets() const { return packets_; }
  uint64_t bytes() const { return bytes_; }
  uint64_t too_long() const { return too_long_; }  // frames the interface cannot take

 private:
  void kick(bool wait);
  uint8_t* frame(uint32_t i) const { return map_ + std::size_t(i) * frame_size_; }

  std::string iface_;
  int fd_ = -1;
  uint8_t* map_ = nullptr;
  std::size_t map_len_ = 0;
  uint32_t frame_size_ = 0;
  uint32_t frames_ = 0;
  uint32_t next_ = 0;
  uint32_t max_data_ = 0;
  double rate_pps_ = 0;
  std::chrono::steady_clock::time_point start_;
  uint64_t packets_ = 0;
  uint64_t bytes_ = 0;
  uint64_t too_long_ = 0;
  uint64_t refused_ = 0;  // slots found refused (TP_STATUS_WRONG_FORMAT) before reuse
};

}  // namespace etcpipe
