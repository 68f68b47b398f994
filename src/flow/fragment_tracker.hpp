// Bounded IP fragment tracking: the first fragment of a datagram carries the L4 ports;
// later fragments of the same datagram (same addresses, protocol, identification, VLAN
// and tunnel) get those ports so they join the same flow. A direct-mapped table of fixed
// size: memory is capped at construction, a colliding datagram replaces the old one
// (counted), and an entry expires `timeout_ns` after the datagram's last fragment.
#pragma once

#include <cstdint>
#include <vector>

#include "packet/packet.hpp"

namespace etcpipe {

struct FragmentStats {
  uint64_t tracked = 0;      // first fragments remembered
  uint64_t matched = 0;      // later fragments attributed to a flow
  uint64_t unmatched = 0;    // later fragments whose first fragment was not seen (or expired)
  uint64_t overwritten = 0;  // live entries replaced by another datagram (table too small)

  void add(const FragmentStats& o) {
    tracked += o.tracked;
    matched += o.matched;
    unmatched += o.unmatched;
    overwritten += o.overwritten;
  }
};

class FragmentTracker {
 public:
  FragmentTracker(uint32_t slots, uint64_t timeout_ns);

  // Remembers the ports of a first fragment.
  void on_first(const DecodedPacket& p);
  // Fills the ports of a later fragment; false if its datagram is unknown.
  bool on_later(DecodedPacket& p);

  const FragmentStats& stats() const { return stats_; }
  std::size_t memory_bytes() const { return slots_.size() * sizeof(Slot); }

 private:
  struct Slot {
    IpAddr src;
    IpAddr dst;
    uint32_t id = 0;
    uint32_t tunnel_id = 0;
    uint16_t vlan = 0;
    uint16_t vlan_outer = 0;
    uint16_t sport = 0;
    uint16_t dport = 0;
    uint8_t proto = 0;
    uint8_t ip_version = 0;  // 0: empty
    TunnelType tunnel = TunnelType::None;
    uint64_t expires_ns = 0;
  };

  Slot& slot_for(const DecodedPacket& p);
  static bool same_datagram(const Slot& s, const DecodedPacket& p);

  std::vector<Slot> slots_;
  uint64_t timeout_ns_;
  FragmentStats stats_;
};

}  // namespace etcpipe
