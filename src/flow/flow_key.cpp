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

// Six independent multiplies (no serial chain through the key), folded, then mixed.
uint64_t hash_flow_key(const FlowKey& key) {
  const auto* p = reinterpret_cast<const unsigned char*>(&key);
  constexpr uint64_t kOdd[6] = {0x9E3779B97F4A7C15ULL, 0xC2B2AE3D27D4EB4FULL,
                                0x165667B19E3779F9ULL, 0xD6E8FEB86659FD93ULL,
                                0xFF51AFD7ED558CCDULL, 0xC4CEB9FE1A85EC53ULL};
  uint64_t h[6];
  for (std::size_t i = 0; i < 6; ++i) {
    const uint64_t w = load64(p + 8 * i);
    h[i] = (w ^ (w >> 29)) * kOdd[i];
  }
  return mix((h[0] + h[1]) ^ (h[2] + h[3]) ^ ((h[4] + h[5]) << 1));
}

}  // namespace etcpipe
