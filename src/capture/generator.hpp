// Synthetic traffic, as ntop's pfsend in the flow-offload study: a fixed number of active
// flows, a flow birth rate (each new flow replaces a random active one), packet sizes
// fixed or drawn from a mix, a TCP/UDP mix and an IPv4/IPv6 share, random or patterned
// payload, all from one seed. Packet time advances at `rate_pps`, so flow births and
// timeouts happen in packet time whatever speed the packets are consumed at.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "capture/source.hpp"
#include "packet/packet.hpp"

namespace etcpipe {

struct GeneratorConfig {
  uint64_t flows = 10000;                     // active flows at any time
  double new_flows_per_sec = 1000;            // births per second of packet time
  std::vector<uint32_t> packet_sizes = {64};  // frame sizes without FCS; one drawn per packet
  uint64_t packets = 1000000;                 // total packets
  double rate_pps = 1e6;                      // packet-time spacing
  double tcp_share = 0.5;                     // of flows
  double ipv6_share = 0.0;                    // of flows
  bool random_payload = true;                 // else a repeating 0x00..0xFF pattern
  uint32_t snaplen = 262144;                  // bytes kept of each packet (wire length unchanged)
  uint64_t seed = 1;
  // The first `flows` packets open the active flows one after the other (each flow's first
  // packet), so a table holds every flow before the random mix starts.
  bool open_all_first = false;
  uint64_t start_ns = 1'700'000'000ULL * 1'000'000'000ULL;
};

class GeneratorSource final : public PacketSource {
 public:
  explicit GeneratorSource(const GeneratorConfig& cfg);

  bool next_batch(PacketBatch& batch) override;
  const SourceStats& stats() const override { return stats_; }
  double progress() const override {
    return cfg_.packets ? double(produced_) / double(cfg_.packets) : 1.0;
  }
  // Flows made (births applied lazily count when they are seen, in a flow's next packet).
  uint64_t flows_born() const { return born_; }

 private:
  struct Flow {
    PacketTuple t;         // client -> server
    uint32_t sent = 0;     // packets so far
    double lazy_seen = 0;  // lazy_births_ when the flow was born or last picked
  };
  void new_flow(Flow& f);
  uint32_t build(const Flow& f, bool from_client, uint32_t size, uint8_t* out);

  GeneratorConfig cfg_;
  std::mt19937_64 rng_;
  std::vector<Flow> flows_;
  std::vector<uint8_t> payload_;  // source of payload bytes
  std::vector<uint8_t> frame_;
  uint64_t produced_ = 0;
  uint64_t born_ = 0;
  uint64_t next_client_ = 0;  // address/port counter: every flow tuple is new
  double births_due_ = 0;
  double lazy_births_ = 0;  // births applied lazily (see next_batch), in all
  SourceStats stats_;
};

}  // namespace etcpipe
