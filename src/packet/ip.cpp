// IPv4 (options, fragments, AH) and IPv6 (extension header chain, fragments, AH).
#include <algorithm>
#include <cstring>

#include "packet/decode_context.hpp"

namespace etcpipe::detail {
namespace {

constexpr uint8_t kIpv6Mobility = 135;
constexpr uint8_t kIpv6Hip = 139;
constexpr uint8_t kIpv6Shim6 = 140;

void set_addresses(DecodedPacket& out, const Bytes& pkt, uint32_t src_off, uint32_t len,
                   uint8_t version) {
  std::memset(out.tuple.src.b, 0, sizeof out.tuple.src.b);
  std::memset(out.tuple.dst.b, 0, sizeof out.tuple.dst.b);
  std::memcpy(out.tuple.src.b, pkt.data.data() + src_off, len);
  std::memcpy(out.tuple.dst.b, pkt.data.data() + src_off + len, len);
  out.tuple.ip_version = version;
  out.tuple.sport = out.tuple.dport = 0;
  out.tcp_flags = 0;
  out.frag = FragKind::None;
  out.frag_id = 0;
}

// A later fragment has no L4 header: the whole fragment is payload.
Outcome finish_later_fragment(Context& c, uint8_t proto, uint32_t off, uint32_t wire_len) {
  auto& o = c.out;
  o.tuple.proto = proto;
  o.frag = FragKind::Later;
  o.l4_off = o.payload_off = off;
  o.payload_len = wire_len;
  o.payload_caplen = std::min(wire_len, c.pkt.size() - std::min(off, c.pkt.size()));
  return Outcome::Ok;
}

// Payload of an IP header: tunnels first, then the transport header.
Outcome decode_ip_payload(Context& c, uint8_t proto, uint32_t off, uint32_t wire_len) {
  if (c.out.frag == FragKind::None) {
    switch (proto) {
      case ipproto::kIpIp:
      case ipproto::kIpv6:
        if (try_decap_ip(c, proto, off)) return Outcome::Ok;
        break;
      case ipproto::kGre:
        if (try_decap_gre(c, off, wire_len)) return Outcome::Ok;
        break;
      default: break;
    }
  }
  return decode_transport(c, proto, off, wire_len);
}

}  // namespace

Outcome decode_ip(Context& c, uint32_t off) {
  if (!c.pkt.has(off, 1)) return Outcome::TruncatedIpv4;
  switch (c.pkt.u8(off) >> 4) {
    case 4: return decode_ipv4(c, off);
    case 6: return decode_ipv6(c, off);
    default: return Outcome::BadIpVersion;
  }
}

Outcome decode_ipv4(Context& c, uint32_t off) {
  const Bytes& p = c.pkt;
  if (!p.has(off, 20)) return Outcome::TruncatedIpv4;
  if ((p.u8(off) >> 4) != 4) return Outcome::BadIpVersion;
  const uint32_t ihl = (p.u8(off) & 0x0Fu) * 4;
  if (ihl < 20) return Outcome::BadIpv4HeaderLength;
  if (!p.has(off, ihl)) return Outcome::TruncatedIpv4;
  const uint32_t on_wire = c.wire_from(off);
  uint32_t total = p.u16(off + 2);
  if (total == 0) total = on_wire;  // TSO/GSO on the capturing host: length left to the NIC
  if (total < ihl || total > on_wire) return Outcome::BadIpv4TotalLength;

  auto& o = c.out;
  set_addresses(o, p, off + 12, 4, 4);
  o.l3_off = off;
  o.ip_len = total;
  uint8_t proto = p.u8(off + 9);
  uint32_t l4 = off + ihl;
  const uint32_t end = off + total;

  const uint16_t frag = p.u16(off + 6);
  const uint32_t frag_offset = (frag & 0x1FFFu) * 8;
  const bool more_fragments = (frag & 0x2000u) != 0;
  if (frag_offset != 0 || more_fragments) o.frag_id = p.u16(off + 4);
  if (frag_offset != 0) return finish_later_fragment(c, proto, l4, end - l4);
  if (more_fragments) o.frag = FragKind::First;

  if (proto == ipproto::kAh) {  // RFC 4302: next header, length in 32-bit words minus 2
    if (!p.has(l4, 2)) return Outcome::TruncatedAh;
    const uint32_t ah_len = (p.u8(l4 + 1) + 2u) * 4;
    if (ah_len > end - l4) return Outcome::TruncatedAh;
    proto = p.u8(l4);
    l4 += ah_len;
  }
  return decode_ip_payload(c, proto, l4, end - l4);
}

Outcome decode_ipv6(Context& c, uint32_t off) {
  const Bytes& p = c.pkt;
  if (!p.has(off, 40)) return Outcome::TruncatedIpv6;
  if ((p.u8(off) >> 4) != 6) return Outcome::BadIpVersion;
  const uint32_t on_wire = c.wire_from(off);
  const uint32_t payload = p.u16(off + 4);
  const uint32_t total = payload == 0 ? on_wire : payload + 40;  // 0: jumbogram or TSO
  if (total > on_wire) return Outcome::BadIpv6PayloadLength;

  auto& o = c.out;
  set_addresses(o, p, off + 8, 16, 6);
  o.l3_off = off;
  o.ip_len = total;
  const uint32_t end = off + total;
  uint8_t next = p.u8(off + 6);
  uint32_t cur = off + 40;

  for (int n = 0;; ++n) {
    uint32_t len = 0;
    switch (next) {
      case ipproto::kHopByHop:
      case ipproto::kRouting:
      case ipproto::kDestOpts:
      case kIpv6Mobility:
      case kIpv6Hip:
      case kIpv6Shim6:
        if (!p.has(cur, 2)) return Outcome::TruncatedIpv6Extension;
        len = (p.u8(cur + 1) + 1u) * 8;
        break;
      case ipproto::kAh:
        if (!p.has(cur, 2)) return Outcome::TruncatedIpv6Extension;
        len = (p.u8(cur + 1) + 2u) * 4;
        break;
      case ipproto::kFragment: {
        if (!p.has(cur, 8) || end - cur < 8) return Outcome::TruncatedIpv6Extension;
        const uint16_t frag = p.u16(cur + 2);
        o.frag_id = p.u32(cur + 4);
        next = p.u8(cur);
        cur += 8;
        if ((frag & 0xFFF8u) != 0) return finish_later_fragment(c, next, cur, end - cur);
        o.frag = (frag & 0x1u) ? FragKind::First : FragKind::None;
        if (n + 1 >= kMaxIpv6Extensions) return Outcome::Ipv6ExtensionChainTooLong;
        continue;
      }
      default: return decode_ip_payload(c, next, cur, end - cur);
    }
    if (n + 1 >= kMaxIpv6Extensions) return Outcome::Ipv6ExtensionChainTooLong;
    if (len > end - cur) return Outcome::TruncatedIpv6Extension;
    next = p.u8(cur);
    cur += len;
  }
}

}  // namespace etcpipe::detail
