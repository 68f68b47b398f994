// Transport headers: TCP (data offset), UDP (and the UDP tunnels VXLAN and GTP-U), ICMP,
// ICMPv6, SCTP. Other protocols form port-less flows.
#include <algorithm>

#include "packet/decode_context.hpp"

namespace etcpipe::detail {
namespace {
constexpr uint16_t kVxlanPort = 4789;
constexpr uint16_t kGtpUPort = 2152;

// Finds the UDP tunnel a datagram belongs to, if any, and decapsulates it.
bool try_decap_udp(Context& c, uint32_t off, uint32_t wire_len) {
  const auto& t = c.out.tuple;
  if (t.dport == kVxlanPort) return try_decap_vxlan(c, off, wire_len);
  if (t.dport == kGtpUPort || t.sport == kGtpUPort) return try_decap_gtpu(c, off, wire_len);
  return false;
}
}  // namespace

Outcome decode_transport(Context& c, uint8_t proto, uint32_t off, uint32_t wire_len) {
  const Bytes& p = c.pkt;
  auto& o = c.out;
  o.tuple.proto = proto;
  o.l4_off = off;
  uint32_t header = 0;
  switch (proto) {
    case ipproto::kTcp: {
      if (!p.has(off, 20) || wire_len < 20) return Outcome::TruncatedTcp;
      header = (p.u8(off + 12) >> 4) * 4u;
      if (header < 20 || header > wire_len) return Outcome::BadTcpDataOffset;
      if (!p.has(off, header)) return Outcome::TruncatedTcp;
      o.tuple.sport = p.u16(off);
      o.tuple.dport = p.u16(off + 2);
      o.tcp_flags = p.u8(off + 13);
      break;
    }
    case ipproto::kUdp:
      if (!p.has(off, 8) || wire_len < 8) return Outcome::TruncatedUdp;
      header = 8;
      o.tuple.sport = p.u16(off);
      o.tuple.dport = p.u16(off + 2);
      if (o.frag == FragKind::None && try_decap_udp(c, off + 8, wire_len - 8)) return Outcome::Ok;
      break;
    case ipproto::kIcmp:
    case ipproto::kIcmpv6:
      if (!p.has(off, 4) || wire_len < 4) return Outcome::TruncatedIcmp;
      header = 4;  // type, code, checksum
      break;
    case ipproto::kSctp:
      if (!p.has(off, 12) || wire_len < 12) return Outcome::TruncatedSctp;
      header = 12;
      o.tuple.sport = p.u16(off);
      o.tuple.dport = p.u16(off + 2);
      break;
    default: break;
  }
  o.payload_off = off + header;
  o.payload_len = wire_len - header;
  o.payload_caplen = std::min(o.payload_len, p.size() - std::min(o.payload_off, p.size()));
  return Outcome::Ok;
}

}  // namespace etcpipe::detail
