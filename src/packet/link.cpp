// Link layers: Ethernet (802.1Q/802.1ad VLAN, MPLS, PPPoE session), Linux cooked v1/v2,
// raw IP, BSD NULL/LOOP, PPP and Cisco HDLC.
#include "packet/decode_context.hpp"

namespace etcpipe::detail {
namespace {

constexpr uint16_t kPppIpv4 = 0x0021;
constexpr uint16_t kPppIpv6 = 0x0057;

Outcome decode_ppp_protocol(Context& c, uint16_t proto, uint32_t off) {
  if (proto == kPppIpv4) return decode_ipv4(c, off);
  if (proto == kPppIpv6) return decode_ipv6(c, off);
  return Outcome::NonIp;
}

Outcome decode_vlan(Context& c, uint32_t off) {
  // `off` points at the TCI of the first tag; tags repeat as (TCI, ethertype).
  for (int tags = 0; tags < kMaxVlanTags; ++tags) {
    if (!c.pkt.has(off, 4)) return Outcome::TruncatedVlan;
    const uint16_t vid = c.pkt.u16(off) & 0x0FFF;
    const uint16_t next = c.pkt.u16(off + 2);
    if (tags > 0) c.out.tuple.vlan_outer = c.out.tuple.vlan;
    c.out.tuple.vlan = vid;
    off += 4;
    if (next != ethertype::kVlan && next != ethertype::kQinQ && next != ethertype::kQinQOld) {
      return decode_ethertype(c, next, off);
    }
  }
  return Outcome::VlanStackTooDeep;
}

Outcome decode_mpls(Context& c, uint32_t off) {
  for (int labels = 0; labels < kMaxMplsLabels; ++labels) {
    if (!c.pkt.has(off, 4)) return Outcome::TruncatedMpls;
    const bool bottom = (c.pkt.u8(off + 2) & 0x01) != 0;
    off += 4;
    if (!bottom) continue;
    // MPLS carries no payload type: look at the first nibble (RFC 4385 control word = 0).
    if (!c.pkt.has(off, 1)) return Outcome::TruncatedMpls;
    switch (c.pkt.u8(off) >> 4) {
      case 4: return decode_ipv4(c, off);
      case 6: return decode_ipv6(c, off);
      case 0: return decode_ethernet(c, off + 4);  // pseudowire control word + Ethernet
      default: return Outcome::NonIp;
    }
  }
  return Outcome::MplsStackTooDeep;
}

Outcome decode_pppoe_session(Context& c, uint32_t off) {
  // ver/type, code, session id, length, then the 2-byte PPP protocol.
  if (!c.pkt.has(off, 8)) return Outcome::TruncatedPppoe;
  return decode_ppp_protocol(c, c.pkt.u16(off + 6), off + 8);
}

// BSD loopback: a 4-byte address family in host (NULL) or network (LOOP) byte order.
Outcome decode_null(Context& c, bool network_order) {
  if (!c.pkt.has(0, 4)) return Outcome::TruncatedLink;
  uint32_t af = c.pkt.u32(0);
  if (!network_order && (af & 0xFFFF) == 0) af = __builtin_bswap32(af);  // written little-endian
  switch (af) {
    case 2: return decode_ipv4(c, 4);  // AF_INET everywhere
    case 10:
    case 24:
    case 28:
    case 30: return decode_ipv6(c, 4);  // Linux, BSDs, Darwin
    default: return Outcome::NonIp;
  }
}

constexpr uint8_t kCiscoHdlcUnicast = 0x0F;
constexpr uint8_t kCiscoHdlcBroadcast = 0x8F;

// Cisco HDLC: address, control, then an ethertype.
Outcome decode_cisco_hdlc(Context& c, uint32_t off) {
  if (!c.pkt.has(off, 4)) return Outcome::TruncatedLink;
  return decode_ethertype(c, c.pkt.u16(off + 2), off + 4);
}

}  // namespace

// PPP (RFC 1661/1662): optional 0xFF 0x03 address/control, then a 1- or 2-byte protocol.
// Captures labelled PPP sometimes hold Cisco HDLC frames (as tcpdump also recognises).
Outcome decode_ppp(Context& c, uint32_t off) {
  if (!c.pkt.has(off, 2)) return Outcome::TruncatedLink;
  const uint8_t first = c.pkt.u8(off);
  if ((first == kCiscoHdlcUnicast || first == kCiscoHdlcBroadcast) && c.pkt.u8(off + 1) == 0) {
    return decode_cisco_hdlc(c, off);
  }
  if (first == 0xFF && c.pkt.u8(off + 1) == 0x03) off += 2;
  if (!c.pkt.has(off, 1)) return Outcome::TruncatedLink;
  if (c.pkt.u8(off) & 0x01) return decode_ppp_protocol(c, c.pkt.u8(off), off + 1);
  if (!c.pkt.has(off, 2)) return Outcome::TruncatedLink;
  return decode_ppp_protocol(c, c.pkt.u16(off), off + 2);
}

Outcome decode_ethertype(Context& c, uint16_t type, uint32_t off) {
  switch (type) {
    case ethertype::kIpv4: return decode_ipv4(c, off);
    case ethertype::kIpv6: return decode_ipv6(c, off);
    case ethertype::kVlan:
    case ethertype::kQinQ:
    case ethertype::kQinQOld: return decode_vlan(c, off);
    case ethertype::kMplsUnicast:
    case ethertype::kMplsMulticast: return decode_mpls(c, off);
    case ethertype::kPppoeSession: return decode_pppoe_session(c, off);
    default: return Outcome::NonIp;  // ARP, LLDP, 802.3 length field + LLC, ...
  }
}

Outcome decode_ethernet(Context& c, uint32_t off) {
  if (!c.pkt.has(off, 14)) return Outcome::TruncatedLink;
  return decode_ethertype(c, c.pkt.u16(off + 12), off + 14);
}

Outcome decode_link(Context& c, int dlt) {
  switch (dlt) {
    case linktype::kEthernet: return decode_ethernet(c, 0);
    case linktype::kRaw:
    case linktype::kRawAlt:
    case linktype::kLinktypeRaw: return decode_ip(c, 0);
    case linktype::kIpv4: return decode_ipv4(c, 0);
    case linktype::kIpv6: return decode_ipv6(c, 0);
    case linktype::kLinuxSll:
      // packet type, ARPHRD, address length, 8 address bytes, protocol.
      if (!c.pkt.has(0, 16)) return Outcome::TruncatedLink;
      return decode_ethertype(c, c.pkt.u16(14), 16);
    case linktype::kLinuxSll2:
      // protocol, reserved, ifindex, ARPHRD, packet type, address length, 8 address bytes.
      if (!c.pkt.has(0, 20)) return Outcome::TruncatedLink;
      return decode_ethertype(c, c.pkt.u16(0), 20);
    case linktype::kNull: return decode_null(c, false);
    case linktype::kLoop: return decode_null(c, true);
    case linktype::kPpp:
    case linktype::kPppSerial: return decode_ppp(c, 0);
    case linktype::kCiscoHdlc: return decode_cisco_hdlc(c, 0);
    default: return Outcome::UnknownLinktype;
  }
}

}  // namespace etcpipe::detail
