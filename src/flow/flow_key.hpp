// Canonical bidirectional flow key: the (address, port) pair that sorts lower comes first,
// and a direction bit says whether a packet travels from that lower endpoint.
#pragma once

#include <bit>
#include <cstddef>
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

  // Six 8-byte words, compared without branches (memcmp's call costs more than this).
  friend bool operator==(const FlowKey& a, const FlowKey& b) {
    uint64_t diff = 0;
    const auto* pa = reinterpret_cast<const char*>(&a);
    const auto* pb = reinterpret_cast<const char*>(&b);
    for (std::size_t i = 0; i < sizeof(FlowKey); i += 8) {
      uint64_t x, y;
      std::memcpy(&x, pa + i, 8);
      std::memcpy(&y, pb + i, 8);
      diff |= x ^ y;
    }
    return diff == 0;
  }
};
static_assert(sizeof(FlowKey) == 48, "FlowKey is hashed and compared as 48 raw bytes");

namespace detail {
inline uint64_t load64(const void* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
}  // namespace detail

// The key's bytes as six little-endian words hashed together: six independent multiplies
// (no serial chain through the key), folded, then MurmurHash3's fmix64. Not symmetric RSS
// (that is dispatch's job).
inline uint64_t hash_key_words(const uint64_t (&w)[6]) {
  constexpr uint64_t kOdd[6] = {0x9E3779B97F4A7C15ULL, 0xC2B2AE3D27D4EB4FULL,
                                0x165667B19E3779F9ULL, 0xD6E8FEB86659FD93ULL,
                                0xFF51AFD7ED558CCDULL, 0xC4CEB9FE1A85EC53ULL};
  uint64_t h[6];
  for (std::size_t i = 0; i < 6; ++i) h[i] = (w[i] ^ (w[i] >> 29)) * kOdd[i];
  uint64_t x = (h[0] + h[1]) ^ (h[2] + h[3]) ^ ((h[4] + h[5]) << 1);
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

// 64-bit hash of a key in memory.
inline uint64_t hash_flow_key(const FlowKey& key) {
  uint64_t w[6];
  std::memcpy(w, &key, sizeof w);
  return hash_key_words(w);
}

// Fills `key` from a packet tuple and returns hash_flow_key(key) in `hash`, computed from
// the fields in registers: reading back the key just written field by field would stall
// on store forwarding. Returns true when the packet's source is key.lo. Inline: it runs
// once per packet, in the flow table's lookup pipeline.
inline bool make_flow_key(const PacketTuple& t, FlowKey& key, uint64_t& hash) {
  static_assert(std::endian::native == std::endian::little, "key words are little-endian");
  static_assert(offsetof(FlowKey, lo_port) == 32 && offsetof(FlowKey, vlan) == 38 &&
                    offsetof(FlowKey, vlan_outer) == 40 && offsetof(FlowKey, tunnel_id) == 44,
                "the word layout below follows FlowKey's");
  const uint64_t s0 = detail::load64(t.src.b), s1 = detail::load64(t.src.b + 8);
  const uint64_t d0 = detail::load64(t.dst.b), d1 = detail::load64(t.dst.b + 8);
  // memcmp's order of the addresses, from big-endian words.
  const uint64_t bs0 = __builtin_bswap64(s0), bd0 = __builtin_bswap64(d0);
  const uint64_t bs1 = __builtin_bswap64(s1), bd1 = __builtin_bswap64(d1);
  const bool src_lt = bs0 < bd0 || (bs0 == bd0 && bs1 < bd1);
  const bool same = s0 == d0 && s1 == d1;
  const bool src_is_lo = src_lt || (same && t.sport <= t.dport);
  const uint16_t lo_port = src_is_lo ? t.sport : t.dport;
  const uint16_t hi_port = src_is_lo ? t.dport : t.sport;
  const uint32_t tunnel_id = t.tunnel_id_symmetric ? t.tunnel_id : 0;
  const uint64_t w[6] = {
      src_is_lo ? s0 : d0,
      src_is_lo ? s1 : d1,
      src_is_lo ? d0 : s0,
      src_is_lo ? d1 : s1,
      uint64_t{lo_port} | uint64_t{hi_port} << 16 | uint64_t{t.proto} << 32 |
          uint64_t{t.ip_version} << 40 | uint64_t{t.vlan} << 48,
      uint64_t{t.vlan_outer} | uint64_t{static_cast<uint8_t>(t.tunnel)} << 16 |
          uint64_t{tunnel_id} << 32,  // byte 3 is FlowKey::reserved, always 0
  };
  // Word by word from registers: one copy of `w` would be built on the stack and read back
  // as vectors, a store-forwarding stall per packet.
  auto* out = reinterpret_cast<unsigned char*>(&key);
  for (std::size_t i = 0; i < 6; ++i) std::memcpy(out + 8 * i, &w[i], 8);
  hash = hash_key_words(w);
  return src_is_lo;
}

}  // namespace etcpipe
