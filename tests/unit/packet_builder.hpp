// Builds packets byte by byte for tests: each function wraps an inner payload in one
// header and fills the length fields, so a test reads like the stack it builds:
//   eth(0x0800, ipv4(A, B, 6, tcp(1234, 80, SYN)))
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <vector>

namespace etcpipe::test {

using Bytes = std::vector<uint8_t>;
using V4 = std::array<uint8_t, 4>;
using V6 = std::array<uint8_t, 16>;

inline void put16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}
inline void put32(Bytes& b, uint32_t v) {
  put16(b, static_cast<uint16_t>(v >> 16));
  put16(b, static_cast<uint16_t>(v));
}
inline Bytes cat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

inline Bytes tcp(uint16_t sport, uint16_t dport, uint8_t flags, const Bytes& payload = {},
                 int option_words = 0) {
  Bytes b;
  put16(b, sport);
  put16(b, dport);
  put32(b, 1000);  // seq
  put32(b, 2000);  // ack
  b.push_back(static_cast<uint8_t>((5 + option_words) << 4));
  b.push_back(flags);
  put16(b, 65535);
  put32(b, 0);                                                  // checksum, urgent
  for (int i = 0; i < option_words; ++i) put32(b, 0x01010101);  // NOPs
  return cat(b, payload);
}

inline Bytes udp(uint16_t sport, uint16_t dport, const Bytes& payload = {}) {
  Bytes b;
  put16(b, sport);
  put16(b, dport);
  put16(b, static_cast<uint16_t>(8 + payload.size()));
  put16(b, 0);
  return cat(b, payload);
}

struct V4Opts {
  uint16_t id = 1;
  uint16_t frag_offset = 0;  // bytes, multiple of 8
  bool more_fragments = false;
  int option_words = 0;
  int total_length = -1;  // override
  uint8_t ihl = 0;        // override (in words)
};

inline Bytes ipv4(V4 src, V4 dst, uint8_t proto, const Bytes& payload, V4Opts o = {}) {
  Bytes b;
  const int hl = 5 + o.option_words;
  b.push_back(static_cast<uint8_t>(0x40 | (o.ihl ? o.ihl : hl)));
  b.push_back(0);
  put16(b,
        static_cast<uint16_t>(o.total_length >= 0 ? o.total_length : hl * 4 + int(payload.size())));
  put16(b, o.id);
  put16(b, static_cast<uint16_t>((o.more_fragments ? 0x2000 : 0) | (o.frag_offset / 8)));
  b.push_back(64);
  b.push_back(proto);
  put16(b, 0);
  b.insert(b.end(), src.begin(), src.end());
  b.insert(b.end(), dst.begin(), dst.end());
  for (int i = 0; i < o.option_words; ++i) put32(b, 0x01010101);
  return cat(b, payload);
}

inline Bytes ipv6(V6 src, V6 dst, uint8_t next, const Bytes& payload) {
  Bytes b;
  put32(b, 0x60000000);
  put16(b, static_cast<uint16_t>(payload.size()));
  b.push_back(next);
  b.push_back(64);
  b.insert(b.end(), src.begin(), src.end());
  b.insert(b.end(), dst.begin(), dst.end());
  return cat(b, payload);
}

// An IPv6 option-style extension header (hop-by-hop, destination options, routing) of
// 8 bytes, followed by `inner`.
inline Bytes ipv6_ext8(uint8_t next, const Bytes& inner) {
  Bytes b{next, 0, 0, 0, 0, 0, 0, 0};
  return cat(b, inner);
}

inline Bytes ipv6_frag(uint8_t next, uint16_t offset, bool more, uint32_t id, const Bytes& inner) {
  Bytes b{next, 0};
  put16(b, static_cast<uint16_t>(offset | (more ? 1 : 0)));
  put32(b, id);
  return cat(b, inner);
}

inline Bytes eth(uint16_t ethertype, const Bytes& payload) {
  Bytes b{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  put16(b, ethertype);
  return cat(b, payload);
}

inline Bytes vlan_tag(uint16_t vid, uint16_t next_ethertype, const Bytes& payload) {
  Bytes b;
  put16(b, vid);
  put16(b, next_ethertype);
  return cat(b, payload);
}

inline Bytes gre(uint16_t proto, const Bytes& payload, bool with_key = false, uint32_t key = 0) {
  Bytes b;
  put16(b, with_key ? 0x2000 : 0);
  put16(b, proto);
  if (with_key) put32(b, key);
  return cat(b, payload);
}

inline Bytes vxlan(uint32_t vni, const Bytes& inner_frame) {
  Bytes b{0x08, 0, 0, 0};
  put32(b, vni << 8);
  return cat(b, inner_frame);
}

inline Bytes gtpu(uint32_t teid, const Bytes& inner_ip, bool with_extension = false) {
  Bytes b;
  b.push_back(with_extension ? 0x34 : 0x30);  // version 1, PT, E flag
  b.push_back(0xFF);
  const uint16_t ext_len = with_extension ? 8 : 0;
  put16(b, static_cast<uint16_t>(inner_ip.size() + ext_len));
  put32(b, teid);
  if (with_extension) {
    put32(b, 0x00000085);               // seq, N-PDU, next extension: PDU session container
    Bytes ext{0x01, 0x00, 0x01, 0x00};  // length 1 (4 bytes), content, next = 0
    b.insert(b.end(), ext.begin(), ext.end());
  }
  return cat(b, inner_ip);
}

inline constexpr V4 kA{10, 0, 0, 1};
inline constexpr V4 kB{10, 0, 0, 2};
inline constexpr V4 kC{192, 168, 1, 1};
inline constexpr V4 kD{192, 168, 1, 2};
inline constexpr V6 kA6{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
inline constexpr V6 kB6{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};

}  // namespace etcpipe::test
