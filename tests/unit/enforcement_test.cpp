// Enforcement: the policy's rules, and the XDP program's flow key and counters against the
// user-space decoder's (the program run by the kernel on built frames: root only).
#include "session/enforcement.hpp"

#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "capture/xdp_program.hpp"
#include "common/time.hpp"
#include "flow/flow_key.hpp"
#include "packet/decoder.hpp"
#include "unit/packet_builder.hpp"
#include "unit/xdp_helpers.hpp"

namespace etcpipe {
namespace {

using namespace etcpipe::test;

TEST(EnforcePolicy, ParsesRules) {
  const EnforceRule r = EnforcePolicy::parse_rule("drop:BitTorrent@0.9");
  EXPECT_EQ(r.action, FlowAction::Drop);
  EXPECT_EQ(r.label, "BitTorrent");
  EXPECT_FLOAT_EQ(r.min_confidence, 0.9f);
  const EnforceRule any = EnforcePolicy::parse_rule(" bypass:* ");
  EXPECT_EQ(any.action, FlowAction::Bypass);
  EXPECT_EQ(any.label, "*");
  EXPECT_EQ(any.min_confidence, 0);
  EXPECT_EQ(EnforcePolicy::parse_rule("pass:a@b@1").label, "a@b");  // the last '@' splits
}

TEST(EnforcePolicy, RefusesBadRules) {
  for (const char* bad : {"drop", "kill:x", "drop:", "drop:x@", "drop:x@1.5", "drop:x@-0.1",
                          "drop:x@0.5y", "drop:@0.5", ":x"}) {
    EXPECT_THROW(EnforcePolicy::parse_rule(bad), std::invalid_argument) << bad;
  }
}

TEST(EnforcePolicy, FirstMatchWinsAndConfidenceCounts) {
  EnforcePolicy p;
  p.add(EnforcePolicy::parse_rule("pass:Zoom"));
  p.add(EnforcePolicy::parse_rule("drop:BitTorrent@0.9"));
  p.add(EnforcePolicy::parse_rule("bypass:*@0.5"));
  EXPECT_EQ(p.decide("Zoom", 0.1f), FlowAction::Pass);
  EXPECT_EQ(p.decide("BitTorrent", 0.95f), FlowAction::Drop);
  EXPECT_EQ(p.decide("BitTorrent", 0.7f), FlowAction::Bypass);  // below 0.9: the next rule
  EXPECT_EQ(p.decide("TLS", 0.4f), FlowAction::None);           // no rule matches
  EXPECT_NO_THROW(p.check_labels({"Zoom", "BitTorrent", "TLS"}));
  EXPECT_THROW(p.check_labels({"Zoom", "TLS"}), std::invalid_argument);
}

TEST(EnforcePolicy, ReadsAFileWithCommentsAndSaysWhichLineIsBad) {
  const std::string path = testing::TempDir() + "/policy.txt";
  {
    std::ofstream f(path);
    f << "# the policy\n\ndrop:BitTorrent@0.9   # seeders\n  bypass:*\n";
  }
  EnforcePolicy p;
  p.add_file(path);
  ASSERT_EQ(p.rules().size(), 2u);
  EXPECT_EQ(p.rules()[0].label, "BitTorrent");
  EXPECT_EQ(p.rules()[1].action, FlowAction::Bypass);
  {
    std::ofstream f(path);
    f << "drop:x\nzap:y\n";
  }
  EnforcePolicy q;
  try {
    q.add_file(path);
    FAIL() << "a bad line was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(":2:"), std::string::npos) << e.what();
  }
  EXPECT_THROW(q.add_file(path + ".missing"), std::runtime_error);
  std::remove(path.c_str());
}

TEST(XdpProgram, FindsTheFlowUserSpaceKeysAndCountsItsPacketsEachWay) {
  auto xdp = load_or_skip();
  if (!xdp) GTEST_SKIP() << "cannot load BPF programs here (no XDP in this build, or not root)";
  const Bytes payload(200, 0x5a);
  const std::vector<std::pair<const char*, Bytes>> frames = {
      {"IPv4 TCP, from lo", eth(0x0800, ipv4(kA, kB, 6, tcp(40000, 443, 0x18, payload)))},
      {"IPv4 TCP, from hi", eth(0x0800, ipv4(kD, kC, 6, tcp(443, 40000, 0x10, payload)))},
      {"IPv4 options, UDP",
       eth(0x0800, ipv4(kC, kA, 17, udp(53, 5353, payload), {.option_words = 3}))},
      {"same address: ports", eth(0x0800, ipv4(kA, kA, 17, udp(9000, 80, payload)))},
      {"IPv6 UDP", eth(0x86DD, ipv6(kB6, kA6, 17, udp(443, 51000, payload)))},
      {"IPv6 TCP", eth(0x86DD, ipv6(kA6, kB6, 6, tcp(51000, 443, 0x02)))},
      {"VLAN", eth(0x8100, vlan_tag(42, 0x0800, ipv4(kA, kB, 6, tcp(1, 2, 0x11))))},
      {"QinQ", eth(0x88A8, vlan_tag(7, 0x8100,
                                    vlan_tag(42, 0x86DD, ipv6(kA6, kB6, 17, udp(1, 2, payload)))))},
  };
  for (const auto& [name, frame] : frames) {
    SCOPED_TRACE(name);
    etcpipe_flow_key key;
    uint32_t ip_len = 0;
    const bool from_lo = user_key(frame, key, ip_len);
    // No entry: the frame goes on (afpacket mode: to the stack).
    EXPECT_EQ(xdp->run_on(frame), XDP_PASS);
    etcpipe_flow_state drop{};
    drop.action = ETCPIPE_ACTION_DROP;
    ASSERT_TRUE(xdp->set_verdict(key, drop));
    EXPECT_EQ(xdp->run_on(frame), XDP_DROP);
    EXPECT_EQ(xdp->run_on(frame), XDP_DROP);
    etcpipe_flow_state got{};
    ASSERT_TRUE(xdp->take_verdict(key, got));
    const int d = from_lo ? 0 : 1;
    EXPECT_EQ(got.packets[d], 2u);
    EXPECT_EQ(got.packets[1 - d], 0u);
    EXPECT_EQ(got.bytes[d], 2u * ip_len);
    EXPECT_NE(got.first_ns, 0u);
    EXPECT_FALSE(xdp->take_verdict(key, got));  // taken out
    EXPECT_EQ(xdp->run_on(frame), XDP_PASS);
  }
}

TEST(XdpProgram, BypassLetsTcpEndsThroughAndLeavesOtherFlowsAlone) {
  auto xdp = load_or_skip();
  if (!xdp) GTEST_SKIP() << "cannot load BPF programs here (no XDP in this build, or not root)";
  const Bytes data = eth(0x0800, ipv4(kA, kB, 6, tcp(40000, 443, 0x18, Bytes(100, 1))));
  const Bytes fin = eth(0x0800, ipv4(kB, kA, 6, tcp(443, 40000, 0x11)));
  const Bytes other = eth(0x0800, ipv4(kA, kB, 6, tcp(40001, 443, 0x18, Bytes(100, 1))));
  const Bytes fragment =
      eth(0x0800, ipv4(kA, kB, 6, tcp(40000, 443, 0x18), {.more_fragments = true}));
  etcpipe_flow_key key;
  uint32_t ip_len = 0;
  user_key(data, key, ip_len);
  etcpipe_flow_state bypass{};
  bypass.action = ETCPIPE_ACTION_BYPASS;
  bypass.verdict_ns = monotonic_ns();
  ASSERT_TRUE(xdp->set_verdict(key, bypass));
  EXPECT_EQ(xdp->run_on(data), XDP_PASS);  // on to the stack, counted
  EXPECT_EQ(xdp->run_on(fin), XDP_PASS);   // to user space, not counted
  EXPECT_EQ(xdp->run_on(other), XDP_PASS);
  EXPECT_EQ(xdp->run_on(fragment), XDP_PASS);
  const etcpipe_xdp_stats s = xdp->stats();
  EXPECT_EQ(s.bypassed, 1u);
  EXPECT_EQ(s.unparsed, 1u);  // the fragment
  etcpipe_flow_state got{};
  ASSERT_TRUE(xdp->take_verdict(key, got));
  EXPECT_EQ(got.packets[0] + got.packets[1], 1u);
  EXPECT_EQ(got.tcp_flags[0] | got.tcp_flags[1], 0x18u);
}

TEST(XdpProgram, ABypassedFlowShowsUserSpaceAFrameEverySecondUncounted) {
  auto xdp = load_or_skip();
  if (!xdp) GTEST_SKIP() << "cannot load BPF programs here (no XDP in this build, or not root)";
  const Bytes data = eth(0x0800, ipv4(kA, kB, 17, udp(5000, 6000, Bytes(100, 1))));
  etcpipe_flow_key key;
  uint32_t ip_len = 0;
  user_key(data, key, ip_len);
  etcpipe_flow_state bypass{};
  bypass.action = ETCPIPE_ACTION_BYPASS;
  bypass.verdict_ns = monotonic_ns() - 2 * ETCPIPE_KEEPALIVE_NS;  // no frame shown for 2 s
  ASSERT_TRUE(xdp->set_verdict(key, bypass));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(xdp->run_on(data), XDP_PASS);
  EXPECT_EQ(xdp->stats().bypassed, 2u);  // the first went to user space
  etcpipe_flow_state got{};
  ASSERT_TRUE(xdp->take_verdict(key, got));
  EXPECT_EQ(got.packets[0] + got.packets[1], 2u);
  EXPECT_NE(got.shown_ns, 0u);
}

}  // namespace
}  // namespace etcpipe
