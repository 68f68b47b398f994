// Tunnel decapsulation: IP-in-IP (4in4, 6in4, 4in6, 6in6), GRE (RFC 2784/2890, with
// Ethernet and ERSPAN II payloads; PPTP's enhanced GRE with PPP), VXLAN (RFC 7348) and GTP-U (3GPP
// TS 29.281). A tunnel whose payload does not decode leaves the packet in its outer flow.
#include "packet/decode_context.hpp"

namespace etcpipe::detail {
namespace {

constexpr uint32_t kErspan2Header = 8;
constexpr uint8_t kGtpGpdu = 0xFF;
constexpr int kMaxGtpExtensions = 8;

struct TunnelId {
  uint32_t value = 0;
  bool symmetric = false;
};

template <class DecodeInner>
bool decapsulate(Context& c, TunnelType type, TunnelId id, DecodeInner&& decode_inner) {
  if (!c.opts.decapsulate || c.tunnel_depth >= kMaxTunnelDepth) return false;
  const DecodedPacket saved = c.out;
  auto& o = c.out;
  if (o.outer_ip_version == 0) {  // keep the outermost addresses as metadata
    o.outer_src = o.tuple.src;
    o.outer_dst = o.tuple.dst;
    o.outer_ip_version = o.tuple.ip_version;
  }
  o.tuple.tunnel = type;  // a nested tunnel overwrites these: the innermost one names the flow
  o.tuple.tunnel_id = id.value;
  o.tuple.tunnel_id_symmetric = id.symmetric;
  ++c.tunnel_depth;
  const Outcome inner = decode_inner();
  --c.tunnel_depth;
  if (inner != Outcome::Ok) {
    c.out = saved;
    return false;
  }
  return true;
}

}  // namespace

bool try_decap_ip(Context& c, uint8_t proto, uint32_t off) {
  return decapsulate(c, TunnelType::IpInIp, {}, [&] {
    return proto == ipproto::kIpIp ? decode_ipv4(c, off) : decode_ipv6(c, off);
  });
}

bool try_decap_gre(Context& c, uint32_t off, uint32_t wire_len) {
  const Bytes& p = c.pkt;
  if (!p.has(off, 4) || wire_len < 4) return false;
  const uint16_t flags = p.u16(off);
  const uint16_t payload_type = p.u16(off + 2);
  const uint32_t version = flags & 0x0007u;
  uint32_t len = 4;
  TunnelId id;
  if (version == 1) {
    // PPTP enhanced GRE (RFC 2637): key = payload length + call id, optional sequence and
    // acknowledgement numbers, then a PPP frame. Each side has its own call id.
    if (payload_type != ethertype::kPptpPpp || (flags & 0x2000u) == 0 || !p.has(off, 8))
      return false;
    id.value = p.u16(off + 6);
    len = 8 + ((flags & 0x1000u) ? 4 : 0) + ((flags & 0x0080u) ? 4 : 0);
    if (len > wire_len) return false;
    return decapsulate(c, TunnelType::Gre, id, [&] { return decode_ppp(c, off + len); });
  }
  // Version 0 (RFC 2784/2890). The routing bit is deprecated and leaves the header length
  // unknown.
  if (version != 0 || (flags & 0x4000u) != 0) return false;
  if (flags & 0x8000u) len += 4;  // checksum + reserved
  if (flags & 0x2000u) {
    if (!p.has(off + len, 4)) return false;
    id = {p.u32(off + len), true};
    len += 4;
  }
  if (flags & 0x1000u) len += 4;  // sequence number
  if (len > wire_len) return false;
  const uint32_t inner = off + len;
  return decapsulate(c, TunnelType::Gre, id, [&] {
    switch (payload_type) {
      case ethertype::kIpv4: return decode_ipv4(c, inner);
      case ethertype::kIpv6: return decode_ipv6(c, inner);
      case ethertype::kTransparentEthernet: return decode_ethernet(c, inner);
      case ethertype::kErspan2: return decode_ethernet(c, inner + kErspan2Header);
      default: return Outcome::NonIp;
    }
  });
}

bool try_decap_vxlan(Context& c, uint32_t off, uint32_t wire_len) {
  const Bytes& p = c.pkt;
  if (!p.has(off, 8) || wire_len < 8 || (p.u8(off) & 0x08) == 0) return false;  // I flag
  const uint32_t vni = p.u32(off + 4) >> 8;
  return decapsulate(c, TunnelType::Vxlan, {vni, true},
                     [&] { return decode_ethernet(c, off + 8); });
}

bool try_decap_gtpu(Context& c, uint32_t off, uint32_t wire_len) {
  const Bytes& p = c.pkt;
  if (!p.has(off, 8) || wire_len < 8) return false;
  const uint8_t flags = p.u8(off);
  // Version 1, protocol type GTP (not GTP'), message type G-PDU (user data).
  if ((flags >> 5) != 1 || (flags & 0x10) == 0 || p.u8(off + 1) != kGtpGpdu) return false;
  const uint32_t teid = p.u32(off + 4);
  uint32_t len = 8;
  if (flags & 0x07) {  // E, S or PN: sequence number, N-PDU number, next extension type
    if (!p.has(off, 12)) return false;
    len = 12;
    uint8_t next = p.u8(off + 11);
    for (int n = 0; next != 0; ++n) {
      if (n == kMaxGtpExtensions || !p.has(off + len, 1)) return false;
      const uint32_t ext = p.u8(off + len) * 4u;
      if (ext == 0 || !p.has(off + len, ext)) return false;
      next = p.u8(off + len + ext - 1);
      len += ext;
    }
  }
  if (len > wire_len) return false;
  return decapsulate(c, TunnelType::GtpU, {teid, false}, [&] { return decode_ip(c, off + len); });
}

}  // namespace etcpipe::detail
