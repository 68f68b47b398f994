#include "packet/decoder.hpp"

#include <gtest/gtest.h>

#include "packet_builder.hpp"

namespace etcpipe {
namespace {

using namespace test;

struct Decoded {
  Outcome outcome;
  DecodedPacket pkt;
};

Decoded decode(const Bytes& frame, int dlt = linktype::kEthernet, bool decap = true,
               uint32_t wire_len = 0) {
  Decoded d{};
  DecoderOptions opts;
  opts.decapsulate = decap;
  d.outcome = decode_packet(dlt, frame, wire_len ? wire_len : uint32_t(frame.size()), opts, d.pkt);
  return d;
}

bool addr_is(const IpAddr& a, const V4& v) {
  IpAddr e{};
  std::copy(v.begin(), v.end(), e.b);
  return a == e;
}
bool addr_is(const IpAddr& a, const V6& v) {
  IpAddr e{};
  std::copy(v.begin(), v.end(), e.b);
  return a == e;
}

TEST(Decoder, EthernetIpv4TcpWithOptions) {
  const Bytes payload(100, 0xAB);
  const auto d = decode(eth(0x0800, ipv4(kA, kB, 6, tcp(40000, 443, 0x18, payload, 3))));
  ASSERT_EQ(d.outcome, Outcome::Ok);
  const auto& t = d.pkt.tuple;
  EXPECT_TRUE(addr_is(t.src, kA));
  EXPECT_TRUE(addr_is(t.dst, kB));
  EXPECT_EQ(t.sport, 40000);
  EXPECT_EQ(t.dport, 443);
  EXPECT_EQ(t.proto, 6);
  EXPECT_EQ(t.ip_version, 4);
  EXPECT_EQ(d.pkt.tcp_flags, 0x18);
  EXPECT_EQ(d.pkt.l3_off, 14u);
  EXPECT_EQ(d.pkt.l4_off, 34u);
  EXPECT_EQ(d.pkt.payload_off, 34u + 32u);
  EXPECT_EQ(d.pkt.payload_len, 100u);
  EXPECT_EQ(d.pkt.payload_caplen, 100u);
  EXPECT_EQ(d.pkt.ip_len, 20u + 32u + 100u);
}

TEST(Decoder, Ipv4OptionsAndEthernetPadding) {
  Bytes frame = eth(0x0800, ipv4(kA, kB, 17, udp(53, 5353, {1, 2}), {.option_words = 2}));
  frame.resize(60, 0);  // minimum Ethernet frame: the padding is not payload
  const auto d = decode(frame);
  ASSERT_EQ(d.outcome, Outcome::Ok);
  EXPECT_EQ(d.pkt.l4_off, 14u + 28u);
  EXPECT_EQ(d.pkt.payload_len, 2u);
  EXPECT_EQ(d.pkt.ip_len, 28u + 10u);
}

TEST(Decoder, SnapLengthTruncationKeepsWireLengths) {
  Bytes frame = eth(0x0800, ipv4(kA, kB, 6, tcp(1, 2, 0x10, Bytes(1000, 7))));
  const auto wire = uint32_t(frame.size());
  frame.resize(14 + 20 + 20 + 10);  // captured with a short snap length
  const auto d = decode(frame, linktype::kEthernet, true, wire);
  ASSERT_EQ(d.outcome, Outcome::Ok);
  EXPECT_EQ(d.pkt.payload_len, 1000u);
  EXPECT_EQ(d.pkt.payload_caplen, 10u);
  EXPECT_EQ(d.pkt.wire_len, wire);
}

TEST(Decoder, QinQKeepsBothVlanIds) {
  const auto d = decode(
      eth(0x88A8, vlan_tag(100, 0x8100, vlan_tag(200, 0x0800, ipv4(kA, kB, 17, udp(1, 2))))));
  ASSERT_EQ(d.outcome, Outcome::Ok);
  EXPECT_EQ(d.pkt.tuple.vlan, 200);
  EXPECT_EQ(d.pkt.tuple.vlan_outer, 100);
}

TEST(Decoder, MplsStackToIpv4) {
  Bytes labels{0x00, 0x01, 0x00, 0x40, 0x00, 0x02, 0x01, 0x40};  // second label bottom-of-stack
  const auto d = decode(eth(0x8847, cat(labels, ipv4(kA, kB, 6, tcp(5, 6, 0x02)))));
  ASSERT_EQ(d.outcome, Outcome::Ok);
  EXPECT_EQ(d.pkt.tuple.sport, 5);
  EXPECT_EQ(d.pkt.l3_off, 22u);
}

TEST(Decoder, PppoeSessionToIpv6) {
  Bytes pppoe{0x11, 0x00, 0x00, 0x01};
  const Bytes ip = ipv6(kA6, kB6, 17, udp(1000, 53));
  put16(pppoe, static_cast<uint16_t>(ip.size() + 2));
  put16(pppoe, 0x0057);
  const auto d = decode(eth(0x8864, cat(pppoe, ip)));
  ASSERT_EQ(d.outcome, Outcome::Ok);
  EXPECT_EQ(d.pkt.tuple.ip_version, 6);
  EXPECT_TRUE(addr_is(d.pkt.tuple.src, kA6));
  EXPECT_EQ(d.pkt.tuple.dport, 53);
}

TEST(Decoder, Ipv6ExtensionHeaders) {
  const auto inner = ipv6_ext8(60, ipv6_ext8(6, tcp(1, 443, 0x02)));
  const auto d = decode(eth(0x86DD, ipv6(kA6, kB6, 0, inner)));
  ASSERT_EQ(d.outcome, Outcome::Ok);
  EXPECT_EQ(d.pkt.tuple.proto, 6);
  EXPECT_EQ(d.pkt.tuple.dport, 443);
  EXPECT_EQ(d.pkt.l4_off, 14u + 40u + 16u);
}

TEST(Decoder, Ipv6ExtensionChainIsBounded) {
  Bytes inner = tcp(1, 2, 0);
  uint8_t next = 6;
  for (int i = 0; i < 20; ++i) {
    inner = ipv6_ext8(next, inner);
    next = 60;
  }
  EXPECT_EQ(decode(eth(0x86DD, ipv6(kA6, kB6, 60, inner))).outcome,
            Outcome::Ipv6ExtensionChainTooLong);
}

TEST(Decoder, Ipv4Fragments) {
  const auto first = decode(
      eth(0x0800, ipv4(kA, kB, 17, udp(1, 2, Bytes(40, 0)), {.id = 77, .more_fragments = true})));
  ASSERT_EQ(first.outcome, Outcome::Ok);
  EXPECT_EQ(first.pkt.frag, FragKind::First);
  EXPECT_EQ(first.pkt.frag_id, 77u);
  EXPECT_EQ(first.pkt.tuple.sport, 1);
  const auto later =
      decode(eth(0x0800, ipv4(kA, kB, 17, Bytes(48, 0), {.id = 77, .frag_offset = 48})));
  ASSERT_EQ(later.outcome, Outcome::Ok);
  EXPECT_EQ(later.pkt.frag, FragKind::Later);
  EXPECT_EQ(later.pkt.tuple.sport, 0);
  EXPECT_EQ(later.pkt.payload_len, 48u);
}

TEST(Decoder, Ipv6Fragments) {
  const auto first = decode(eth(0x86DD, ipv6(kA6, kB6, 44, ipv6_frag(17, 0, true, 9, udp(7, 8)))));
  ASSERT_EQ(first.outcome, Outcome::Ok);
  EXPECT_EQ(first.pkt.frag, FragKind::First);
  EXPECT_EQ(first.pkt.frag_id, 9u);
  EXPECT_EQ(first.pkt.tuple.dport, 8);
  const auto later =
      decode(eth(0x86DD, ipv6(kA6, kB6, 44, ipv6_frag(17, 64, false, 9, Bytes(30, 1)))));
  ASSERT_EQ(later.outcome, Outcome::Ok);
  EXPECT_EQ(later.pkt.frag, FragKind::Later);
  EXPECT_EQ(later.pkt.tuple.proto, 17);
}

TEST(Decoder, MalformedHeadersHaveNamedReasons) {
  EXPECT_EQ(decode(eth(0x0800, ipv4(kA, kB, 6, tcp(1, 2, 0), {.ihl = 4}))).outcome,
            Outcome::BadIpv4HeaderLength);
  EXPECT_EQ(decode(eth(0x0800, ipv4(kA, kB, 6, tcp(1, 2, 0), {.total_length = 400}))).outcome,
            Outcome::BadIpv4TotalLength);
  EXPECT_EQ(decode(eth(0x0800, ipv4(kA, kB, 6, tcp(1, 2, 0), {.total_length = 10}))).outcome,
            Outcome::BadIpv4TotalLength);
  Bytes bad_tcp = tcp(1, 2, 0);
  bad_tcp[12] = 0x30;  // data offset 3 words
  EXPECT_EQ(decode(eth(0x0800, ipv4(kA, kB, 6, bad_tcp))).outcome, Outcome::BadTcpDataOffset);
  bad_tcp[12] = 0xF0;  // 60 bytes of header in a 20-byte segment
  EXPECT_EQ(decode(eth(0x0800, ipv4(kA, kB, 6, bad_tcp))).outcome, Outcome::BadTcpDataOffset);
  Bytes v5 = ipv4(kA, kB, 6, tcp(1, 2, 0));
  v5[0] = 0x55;
  EXPECT_EQ(decode(eth(0x0800, v5)).outcome, Outcome::BadIpVersion);
  EXPECT_EQ(decode(eth(0x0806, Bytes(28, 0))).outcome, Outcome::NonIp);  // ARP
  EXPECT_EQ(decode(Bytes(60, 0), 147).outcome, Outcome::UnknownLinktype);
}

// Every prefix of a valid packet decodes to Ok or a named truncation, never past the end
// (ASan checks the reads).
TEST(Decoder, EveryPrefixIsSafe) {
  const std::vector<Bytes> frames = {
      eth(0x8100, vlan_tag(5, 0x0800,
                           ipv4(kA, kB, 6, tcp(1, 2, 0x02, Bytes(10, 1), 2), {.option_words = 1}))),
      eth(0x86DD, ipv6(kA6, kB6, 0, ipv6_ext8(44, ipv6_frag(17, 0, true, 3, udp(1, 2))))),
      eth(0x0800,
          ipv4(kC, kD, 17, udp(5, 4789, vxlan(7, eth(0x0800, ipv4(kA, kB, 132, Bytes(16, 0)))))))};
  for (const Bytes& frame : frames) {
    for (std::size_t len = 0; len < frame.size(); ++len) {
      const Bytes prefix(frame.begin(), frame.begin() + long(len));
      const auto d = decode(prefix, linktype::kEthernet, true, uint32_t(frame.size()));
      const auto name = outcome_name(d.outcome);
      EXPECT_TRUE(d.outcome == Outcome::Ok || name.starts_with("truncated"))
          << "prefix " << len << ": " << name;
    }
  }
}

TEST(Decoder, IpInIpTunnels) {
  const Bytes inner4 = ipv4(kA, kB, 6, tcp(1111, 80, 0x02));
  const Bytes inner6 = ipv6(kA6, kB6, 17, udp(2222, 53));
  struct Case {
    Bytes frame;
    uint8_t inner_version;
  };
  const Case cases[] = {{eth(0x0800, ipv4(kC, kD, 4, inner4)), 4},
                        {eth(0x0800, ipv4(kC, kD, 41, inner6)), 6},
                        {eth(0x86DD, ipv6(kB6, kA6, 4, inner4)), 4},
                        {eth(0x86DD, ipv6(kB6, kA6, 41, inner6)), 6}};
  for (const auto& c : cases) {
    const auto d = decode(c.frame);
    ASSERT_EQ(d.outcome, Outcome::Ok);
    EXPECT_EQ(d.pkt.tuple.tunnel, TunnelType::IpInIp);
    EXPECT_EQ(d.pkt.tuple.ip_version, c.inner_version);
    EXPECT_NE(d.pkt.outer_ip_version, 0);
    EXPECT_TRUE(d.pkt.tuple.sport == 1111 || d.pkt.tuple.sport == 2222);
    const auto outer = decode(c.frame, linktype::kEthernet, /*decap=*/false);
    EXPECT_EQ(outer.pkt.tuple.tunnel, TunnelType::None);
    EXPECT_TRUE(outer.pkt.tuple.proto == 4 || outer.pkt.tuple.proto == 41);
  }
}

TEST(Decoder, GreVxlanGtpTunnels) {
  const Bytes inner = ipv4(kA, kB, 6, tcp(1234, 443, 0x10));
  const auto g = decode(eth(0x0800, ipv4(kC, kD, 47, gre(0x0800, inner, true, 42))));
  ASSERT_EQ(g.outcome, Outcome::Ok);
  EXPECT_EQ(g.pkt.tuple.tunnel, TunnelType::Gre);
  EXPECT_EQ(g.pkt.tuple.tunnel_id, 42u);
  EXPECT_TRUE(g.pkt.tuple.tunnel_id_symmetric);
  EXPECT_EQ(g.pkt.tuple.dport, 443);
  EXPECT_TRUE(addr_is(g.pkt.outer_src, kC));

  const auto teb = decode(eth(0x0800, ipv4(kC, kD, 47, gre(0x6558, eth(0x0800, inner)))));
  ASSERT_EQ(teb.outcome, Outcome::Ok);
  EXPECT_EQ(teb.pkt.tuple.dport, 443);

  const auto vx =
      decode(eth(0x0800, ipv4(kC, kD, 17, udp(5555, 4789, vxlan(0xABCDE, eth(0x0800, inner))))));
  ASSERT_EQ(vx.outcome, Outcome::Ok);
  EXPECT_EQ(vx.pkt.tuple.tunnel, TunnelType::Vxlan);
  EXPECT_EQ(vx.pkt.tuple.tunnel_id, 0xABCDEu);
  EXPECT_TRUE(addr_is(vx.pkt.tuple.src, kA));

  for (bool ext : {false, true}) {
    const auto gt =
        decode(eth(0x0800, ipv4(kC, kD, 17, udp(2152, 2152, gtpu(0x1234, inner, ext)))));
    ASSERT_EQ(gt.outcome, Outcome::Ok);
    EXPECT_EQ(gt.pkt.tuple.tunnel, TunnelType::GtpU);
    EXPECT_EQ(gt.pkt.tuple.tunnel_id, 0x1234u);
    EXPECT_FALSE(gt.pkt.tuple.tunnel_id_symmetric);
    EXPECT_EQ(gt.pkt.tuple.sport, 1234);
  }
  // A GTP-U port carrying something that is not IP stays a plain UDP flow.
  const auto junk =
      decode(eth(0x0800, ipv4(kC, kD, 17, udp(2152, 2152, gtpu(1, Bytes(30, 0xEE))))));
  ASSERT_EQ(junk.outcome, Outcome::Ok);
  EXPECT_EQ(junk.pkt.tuple.tunnel, TunnelType::None);
  EXPECT_EQ(junk.pkt.tuple.dport, 2152);
}

TEST(Decoder, NestedTunnelsAreBounded) {
  Bytes pkt = ipv4(kA, kB, 17, udp(1, 2));
  for (int i = 0; i < 10; ++i) pkt = ipv4(kC, kD, 4, pkt);
  const auto d = decode(eth(0x0800, pkt));
  ASSERT_EQ(d.outcome, Outcome::Ok);
  EXPECT_EQ(d.pkt.tuple.proto, 4);  // gave up after the depth limit: an outer IP-in-IP flow
  EXPECT_EQ(d.pkt.tuple.tunnel, TunnelType::IpInIp);
}

TEST(Decoder, LinkTypes) {
  const Bytes ip = ipv4(kA, kB, 17, udp(10, 20));
  Bytes sll(14, 0);
  put16(sll, 0x0800);
  Bytes sll2;
  put16(sll2, 0x0800);
  sll2.resize(20, 0);
  const Bytes null_le{2, 0, 0, 0};
  const Bytes null_v6{30, 0, 0, 0};
  const Bytes loop{0, 0, 0, 2};
  const Bytes ppp{0xFF, 0x03, 0x00, 0x21};
  const Bytes hdlc{0x0F, 0x00, 0x08, 0x00};
  EXPECT_EQ(decode(cat(sll, ip), linktype::kLinuxSll).outcome, Outcome::Ok);
  EXPECT_EQ(decode(cat(sll2, ip), linktype::kLinuxSll2).outcome, Outcome::Ok);
  EXPECT_EQ(decode(cat(null_le, ip), linktype::kNull).outcome, Outcome::Ok);
  EXPECT_EQ(decode(cat(null_v6, ipv6(kA6, kB6, 17, udp(1, 2))), linktype::kNull).outcome,
            Outcome::Ok);
  EXPECT_EQ(decode(cat(loop, ip), linktype::kLoop).outcome, Outcome::Ok);
  EXPECT_EQ(decode(cat(ppp, ip), linktype::kPpp).outcome, Outcome::Ok);
  EXPECT_EQ(decode(cat(hdlc, ip), linktype::kPpp).outcome, Outcome::Ok);
  EXPECT_EQ(decode(cat(hdlc, ip), linktype::kCiscoHdlc).outcome, Outcome::Ok);
  EXPECT_EQ(decode(ip, linktype::kRaw).outcome, Outcome::Ok);
  EXPECT_EQ(decode(ipv6(kA6, kB6, 17, udp(1, 2)), linktype::kLinktypeRaw).outcome, Outcome::Ok);
  EXPECT_EQ(decode(ip, linktype::kIpv4).outcome, Outcome::Ok);
  EXPECT_EQ(decode(Bytes{1, 2}, linktype::kLinuxSll).outcome, Outcome::TruncatedLink);
  EXPECT_TRUE(linktype_supported(linktype::kLinuxSll2));
  EXPECT_FALSE(linktype_supported(105));  // 802.11
}

TEST(Decoder, IcmpAndSctp) {
  const auto icmp = decode(eth(0x0800, ipv4(kA, kB, 1, Bytes{8, 0, 0, 0, 0, 1, 0, 1})));
  ASSERT_EQ(icmp.outcome, Outcome::Ok);
  EXPECT_EQ(icmp.pkt.tuple.sport, 0);
  EXPECT_EQ(icmp.pkt.payload_len, 4u);
  Bytes sctp;
  put16(sctp, 3868);
  put16(sctp, 3869);
  sctp.resize(12, 0);
  const auto s = decode(eth(0x0800, ipv4(kA, kB, 132, sctp)));
  ASSERT_EQ(s.outcome, Outcome::Ok);
  EXPECT_EQ(s.pkt.tuple.sport, 3868);
  EXPECT_EQ(decode(eth(0x0800, ipv4(kA, kB, 132, Bytes(6, 0)))).outcome, Outcome::TruncatedSctp);
}

}  // namespace
}  // namespace etcpipe
