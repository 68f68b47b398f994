// Canonical bidirectional flow key: the (address, port) pair that sorts lower comes first,
// and a direction bit says whether a packet travels from that lower endpoint.
#pragma once

#include <cstdint>
#include <cstring>

#include "packet/packet.hpp"

namespace etcpipe {

struct FlowKey {
  IpAddr lo_addr;
  IpAddr hi_addr;
  uint16_t lo_port = 0;
  uint16_t hi_port = 0;
  uint8_t proto = 0;
  uint8_t ip_version = 0;
  uint16_t vlan = 0;
  uint16_t vlan_outer = 0;
  TunnelType tunnel = TunnelType::None;
  uint8_t reserved = 0;  // always zero: keys compare and hash as raw bytes
  uint32_t tunnel_id = 0;

  friend bool operator==(const FlowKey& a, const FlowKey& b) {
    return std::memcmp(&a, &b, sizeof(FlowKey)) == 0;
  }
};
static_assert(sizeof(FlowKey) == 48, "FlowKey is hashed and compared as 48 raw bytes");

// Fills `key` from a packet tuple; returns true when the packet's source is key.lo.
bool make_flow_key(const PacketTuple& t, FlowKey& key);

// 64-bit hash of the key's bytes (not symmetric RSS: that is dispatch's job).
uint64_t hash_flow_key(const FlowKey& key);

}  // namespace etcpipe
