// The result of decoding one packet: offsets into the captured bytes and the flow tuple.
// A packet is parsed once, near the source; later stages read these fields, never re-parse.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>

namespace etcpipe {

// Link-layer types we decode (values are libpcap's DLT_* numbers as returned by
// pcap_datalink(); they equal the LINKTYPE_* numbers except for RAW).
namespace linktype {
inline constexpr int kNull = 0;  // BSD loopback, host-order AF
inline constexpr int kEthernet = 1;
inline constexpr int kPpp = 9;
inline constexpr int kRaw = 12;     // DLT_RAW on Linux (LINKTYPE_RAW 101 maps to it)
inline constexpr int kRawAlt = 14;  // DLT_RAW on OpenBSD
inline constexpr int kPppSerial = 50;
inline constexpr int kLinktypeRaw = 101;
inline constexpr int kCiscoHdlc = 104;
inline constexpr int kLoop = 108;  // OpenBSD loopback, network-order AF
inline constexpr int kLinuxSll = 113;
inline constexpr int kIpv4 = 228;
inline constexpr int kIpv6 = 229;
inline constexpr int kLinuxSll2 = 276;
}  // namespace linktype

// An IPv4 address occupies the first 4 bytes, the rest zero.
struct IpAddr {
  uint8_t b[16];
  friend bool operator==(const IpAddr& a, const IpAddr& c) {
    return std::memcmp(a.b, c.b, 16) == 0;
  }
};

enum class TunnelType : uint8_t { None = 0, IpInIp, Gre, Vxlan, GtpU };
const char* tunnel_name(TunnelType t);

// L3/L4 identity of a packet as seen on the wire (not canonicalised: see flow/flow_key.hpp).
struct PacketTuple {
  IpAddr src;
  IpAddr dst;
  uint16_t sport = 0;  // host byte order; 0 for protocols without ports
  uint16_t dport = 0;
  uint8_t proto = 0;  // IP protocol number of the innermost L4 header
  uint8_t ip_version = 0;
  uint16_t vlan = 0;        // innermost 802.1Q VLAN id, 0 if untagged
  uint16_t vlan_outer = 0;  // outer (S-tag) id for QinQ, 0 otherwise
  TunnelType tunnel = TunnelType::None;
  // VXLAN VNI, GRE key, PPTP call id, GTP-U TEID of the innermost tunnel. Only ids that
  // are the same both ways (VNI, GRE key) take part in the flow key: GTP-U and PPTP use
  // one id per direction.
  uint32_t tunnel_id = 0;
  bool tunnel_id_symmetric = false;
};

// Fragment information of the innermost IP header.
enum class FragKind : uint8_t { None = 0, First, Later };

struct DecodedPacket {
  uint64_t ts_ns = 0;
  int link_type = 0;  // DLT of the captured bytes
  uint32_t wire_len = 0;
  uint32_t cap_len = 0;
  PacketTuple tuple;
  uint32_t l3_off = 0;          // innermost IP header
  uint32_t l4_off = 0;          // L4 header (== payload_off for later fragments)
  uint32_t payload_off = 0;     // first byte after the L4 header
  uint32_t ip_len = 0;          // innermost IP datagram length on the wire (header + payload)
  uint32_t payload_len = 0;     // L4 payload length on the wire
  uint32_t payload_caplen = 0;  // of which captured
  uint8_t tcp_flags = 0;
  bool select_match = true;  // passes the BPF selection filter, if any (set by the reader)
  FragKind frag = FragKind::None;
  uint32_t frag_id = 0;  // IPv4 identification or IPv6 fragment identification
  // Outermost IP addresses when the flow tuple comes from a decapsulated tunnel.
  IpAddr outer_src;
  IpAddr outer_dst;
  uint8_t outer_ip_version = 0;
};

// EtherType values, also used as GRE payload types.
namespace ethertype {
inline constexpr uint16_t kIpv4 = 0x0800;
inline constexpr uint16_t kIpv6 = 0x86DD;
inline constexpr uint16_t kVlan = 0x8100;
inline constexpr uint16_t kQinQ = 0x88A8;
inline constexpr uint16_t kQinQOld = 0x9100;
inline constexpr uint16_t kMplsUnicast = 0x8847;
inline constexpr uint16_t kMplsMulticast = 0x8848;
inline constexpr uint16_t kPppoeSession = 0x8864;
inline constexpr uint16_t kTransparentEthernet = 0x6558;  // GRE payload type
inline constexpr uint16_t kErspan2 = 0x88BE;
inline constexpr uint16_t kPptpPpp = 0x880B;  // GRE v1 payload type
}  // namespace ethertype

namespace tcp_flag {
inline constexpr uint8_t kFin = 0x01;
inline constexpr uint8_t kSyn = 0x02;
inline constexpr uint8_t kRst = 0x04;
inline constexpr uint8_t kPsh = 0x08;
inline constexpr uint8_t kAck = 0x10;
inline constexpr uint8_t kUrg = 0x20;
inline constexpr uint8_t kEce = 0x40;
inline constexpr uint8_t kCwr = 0x80;
}  // namespace tcp_flag

namespace ipproto {
inline constexpr uint8_t kHopByHop = 0;
inline constexpr uint8_t kIcmp = 1;
inline constexpr uint8_t kIpIp = 4;
inline constexpr uint8_t kTcp = 6;
inline constexpr uint8_t kUdp = 17;
inline constexpr uint8_t kIpv6 = 41;
inline constexpr uint8_t kRouting = 43;
inline constexpr uint8_t kFragment = 44;
inline constexpr uint8_t kGre = 47;
inline constexpr uint8_t kEsp = 50;
inline constexpr uint8_t kAh = 51;
inline constexpr uint8_t kIcmpv6 = 58;
inline constexpr uint8_t kNoNext = 59;
inline constexpr uint8_t kDestOpts = 60;
inline constexpr uint8_t kSctp = 132;
}  // namespace ipproto

}  // namespace etcpipe
