#include "flow/flow_key.hpp"

namespace etcpipe {
namespace {
uint64_t load64(const unsigned char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
uint64_t mix(uint64_t h) {  // MurmurHash3 fmix64
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}
}  // namespace

bool make_flow_key(const PacketTuple& t, FlowKey& key) {
  const int cmp = std::memcmp(t.src.b, t.dst.b, sizeof t.src.b);
  const bool src_is_lo = cmp < 0 || (cmp == 0 && t.sport <= t.dport);
  key = FlowKey{};
  key.lo_addr = src_is_lo ? t.src : t.dst;
  key.hi_addr = src_is_lo ? t.dst : t.src;
  key.lo_port = src_is_lo ? t.sport : t.dport;
  key.hi_port = src_is_lo ? t.dport : t.sport;
  key.proto = t.proto;
  key.ip_version = t.ip_version;
  key.vlan = t.vlan;
  key.vlan_outer = t.vlan_outer;
  key.tunnel = t.tunnel;
  key.tunnel_id = t.tunnel_id_symmetric ? t.tunnel_id : 0;
  return src_is_lo;
}

uint64_t hash_flow_key(const FlowKey& key) {
  const auto* p = reinterpret_cast<const unsigned char*>(&key);
  uint64_t h = 0x9E3779B97F4A7C15ULL;
  for (std::size_t i = 0; i < sizeof(FlowKey); i += 8) {
    h = (h ^ load64(p + i)) * 0x100000001B3ULL;
    h = (h << 29) | (h >> 35);
  }
  return mix(h);
}

}  // namespace etcpipe
