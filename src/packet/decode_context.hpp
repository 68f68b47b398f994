// Internal to the decoder: the shared cursor state and the per-layer decode functions.
// Each layer reads through `Bytes`, which knows how many bytes were captured.
#pragma once

#include <cstdint>
#include <span>

#include "packet/decoder.hpp"

namespace etcpipe::detail {

// Bounds-aware view of the captured packet.
struct Bytes {
  std::span<const uint8_t> data;

  uint32_t size() const { return static_cast<uint32_t>(data.size()); }
  bool has(uint32_t off, uint32_t n) const { return off <= size() && n <= size() - off; }
  // Callers check has() first.
  uint8_t u8(uint32_t off) const { return data[off]; }
  uint16_t u16(uint32_t off) const {
    return static_cast<uint16_t>((data[off] << 8) | data[off + 1]);
  }
  uint32_t u32(uint32_t off) const {
    return (uint32_t{data[off]} << 24) | (uint32_t{data[off + 1]} << 16) |
           (uint32_t{data[off + 2]} << 8) | uint32_t{data[off + 3]};
  }
};

inline constexpr int kMaxTunnelDepth = 4;
inline constexpr int kMaxVlanTags = 4;
inline constexpr int kMaxMplsLabels = 8;
inline constexpr int kMaxIpv6Extensions = 8;

struct Context {
  Bytes pkt;
  uint32_t wire_len;  // original length of the whole frame
  const DecoderOptions& opts;
  DecodedPacket& out;
  int tunnel_depth = 0;

  // Bytes on the wire from `off` to the end of the frame.
  uint32_t wire_from(uint32_t off) const { return off <= wire_len ? wire_len - off : 0; }
};

// Link layer (link.cpp).
Outcome decode_link(Context& c, int dlt);
Outcome decode_ethernet(Context& c, uint32_t off);
Outcome decode_ethertype(Context& c, uint16_t ethertype, uint32_t off);
Outcome decode_ppp(Context& c, uint32_t off);

// Network layer (ip.cpp). `decode_ip` picks v4/v6 from the version nibble.
Outcome decode_ip(Context& c, uint32_t off);
Outcome decode_ipv4(Context& c, uint32_t off);
Outcome decode_ipv6(Context& c, uint32_t off);

// Transport layer (transport.cpp). [off, off + wire_len) is the L4 segment on the wire.
Outcome decode_transport(Context& c, uint8_t proto, uint32_t off, uint32_t wire_len);

// Tunnels (tunnel.cpp). Each returns true with `c.out` describing the inner packet, or
// false with `c.out` untouched when decapsulation is off, too deep, or the payload does
// not decode as a tunnelled packet (the packet then stays in its outer flow).
bool try_decap_ip(Context& c, uint8_t proto, uint32_t off);
bool try_decap_gre(Context& c, uint32_t off, uint32_t wire_len);
bool try_decap_vxlan(Context& c, uint32_t off, uint32_t wire_len);
bool try_decap_gtpu(Context& c, uint32_t off, uint32_t wire_len);

}  // namespace etcpipe::detail
