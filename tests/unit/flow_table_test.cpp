#include "flow/flow_table.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <bitset>
#include <cstdio>
#include <memory>
#include <random>
#include <set>

#include "flow/fragment_tracker.hpp"
#include "packet/decoder.hpp"
#include "packet_builder.hpp"

namespace etcpipe {
namespace {

using namespace test;
constexpr uint64_t kSec = kNsPerSec;

DecodedPacket pkt(const Bytes& frame, uint64_t ts_ns) {
  DecodedPacket p;
  p.ts_ns = ts_ns;
  EXPECT_EQ(decode_packet(linktype::kEthernet, frame, uint32_t(frame.size()), {}, p), Outcome::Ok);
  return p;
}
DecodedPacket tcp4(V4 s, V4 d, uint16_t sp, uint16_t dp, uint8_t flags, uint64_t ts,
                   std::size_t payload = 0) {
  return pkt(eth(0x0800, ipv4(s, d, 6, tcp(sp, dp, flags, Bytes(payload, 0)))), ts);
}
DecodedPacket udp4(V4 s, V4 d, uint16_t sp, uint16_t dp, uint64_t ts) {
  return pkt(eth(0x0800, ipv4(s, d, 17, udp(sp, dp))), ts);
}

constexpr uint8_t kSyn = tcp_flag::kSyn, kAck = tcp_flag::kAck, kFin = tcp_flag::kFin,
                  kRst = tcp_flag::kRst;

class FlowTableTest : public ::testing::Test {
 protected:
  FlowTableConfig cfg;
  std::vector<FlowRecord>& done(FlowTable& t) { return t.finished(); }
};

TEST_F(FlowTableTest, BothDirectionsFormOneFlowOrientedBySynSender) {
  FlowTable t(cfg);
  t.add(tcp4(kA, kB, 40000, 443, kSyn, 1 * kSec));
  t.add(tcp4(kB, kA, 443, 40000, kSyn | kAck, 2 * kSec));
  t.add(tcp4(kA, kB, 40000, 443, kAck, 3 * kSec, 100));
  t.flush();
  ASSERT_EQ(t.finished().size(), 1u);
  const FlowRecord& r = t.finished()[0];
  EXPECT_EQ(r.src_port, 40000);
  EXPECT_EQ(r.dst_port, 443);
  EXPECT_EQ(r.pkts_fwd, 2u);
  EXPECT_EQ(r.pkts_rev, 1u);
  EXPECT_EQ(r.bytes_fwd, 40u + 140u);
  EXPECT_EQ(r.tcp_flags_fwd, kSyn | kAck);
  EXPECT_EQ(r.tcp_flags_rev, kSyn | kAck);
  EXPECT_EQ(r.first_ns, 1 * kSec);
  EXPECT_EQ(r.last_ns, 3 * kSec);
  EXPECT_EQ(r.end_reason, EndReason::EndOfInput);
}

TEST_F(FlowTableTest, FlushInStepsEndsEveryFlowOnceByItsReason) {
  FlowTable t(cfg);
  for (uint16_t port = 1; port <= 5; ++port) t.add(udp4(kA, kB, port, 53, 1 * kSec));
  t.add(tcp4(kA, kB, 40000, 443, kSyn, 2 * kSec));
  std::set<uint16_t> ended;
  std::size_t steps = 0;
  for (bool done = false; !done; ++steps) {
    done = t.flush(EndReason::Interrupted, 2);
    EXPECT_LE(t.finished().size(), 2u);
    for (const FlowRecord& r : t.finished()) {
      EXPECT_TRUE(ended.insert(r.src_port).second) << r.src_port;
      EXPECT_EQ(r.end_reason, EndReason::Interrupted);
    }
    t.finished().clear();
  }
  EXPECT_EQ(ended.size(), 6u);
  EXPECT_EQ(steps, 3u);
  EXPECT_EQ(t.stats().active, 0u);
  EXPECT_TRUE(t.flush(EndReason::Interrupted, 0));  // nothing left: done at once
}

TEST_F(FlowTableTest, SynAckFirstMakesItsReceiverTheClient) {
  FlowTable t(cfg);
  t.add(tcp4(kB, kA, 443, 40000, kSyn | kAck, 1 * kSec));
  t.flush();
  EXPECT_EQ(t.finished()[0].src_port, 40000);
  EXPECT_EQ(t.finished()[0].pkts_rev, 1u);
}

TEST_F(FlowTableTest, IdleTimeoutPerProtocol) {
  FlowTable t(cfg);  // UDP 60 s, TCP 300 s
  t.add(udp4(kA, kB, 1000, 53, 0));
  t.add(tcp4(kA, kB, 1000, 80, kAck, 0));
  t.expire(61 * kSec);
  ASSERT_EQ(t.finished().size(), 1u);
  EXPECT_EQ(t.finished()[0].proto, 17);
  EXPECT_EQ(t.finished()[0].end_reason, EndReason::Idle);
  t.add(udp4(kA, kB, 1000, 53, 62 * kSec));  // a new flow on the same 5-tuple
  EXPECT_EQ(t.stats().created, 3u);
  t.expire(301 * kSec);
  EXPECT_EQ(t.finished().size(), 3u);
}

TEST_F(FlowTableTest, IdleTimeoutCheckedOnLookupToo) {
  FlowTable t(cfg);
  t.add(udp4(kA, kB, 1, 2, 0));
  t.add(udp4(kA, kB, 1, 2, 100 * kSec));  // no expire() in between: same result
  t.flush();
  ASSERT_EQ(t.finished().size(), 2u);
  EXPECT_EQ(t.finished()[0].end_reason, EndReason::Idle);
  EXPECT_EQ(t.finished()[0].last_ns, 0u);
}

// Flows are requeued on their timer list at most once a second: an idle flow ends at most
// 1 s after its timeout, never before, whatever order the sweep finds it in.
TEST_F(FlowTableTest, IdleEndIsAtMostOneSecondLate) {
  FlowTable t(cfg);
  t.add(udp4(kA, kB, 1, 2, 0));
  t.add(udp4(kA, kB, 1, 2, kSec / 2));  // seen again, not requeued
  t.add(udp4(kA, kB, 3, 4, kSec / 4));  // queued after flow 1
  t.expire(60 * kSec + kSec / 4 + 1);   // flow 2 is due, flow 1 is not
  ASSERT_EQ(t.finished().size(), 1u);
  EXPECT_EQ(t.finished()[0].src_port, 3);
  t.expire(60 * kSec + kSec / 2);
  EXPECT_EQ(t.finished().size(), 1u);  // never early
  t.expire(61 * kSec + kSec / 2);
  ASSERT_EQ(t.finished().size(), 2u);  // at most a second late
  EXPECT_EQ(t.finished()[1].end_reason, EndReason::Idle);
}

TEST_F(FlowTableTest, FlushEndsOverdueFlowsByTheirTimeout) {
  FlowTable t(cfg);
  t.add(udp4(kA, kB, 1, 2, 0));
  t.add(udp4(kA, kB, 1, 2, kSec / 2));
  t.expire(60 * kSec + kSec / 2 + 1);  // due, but behind its queue time by < 1 s
  t.flush();
  ASSERT_EQ(t.finished().size(), 1u);
  EXPECT_EQ(t.finished()[0].end_reason, EndReason::Idle);
}

TEST_F(FlowTableTest, ActiveTimeoutSplitsLongFlows) {
  cfg.timeouts.active_ns = 100 * kSec;
  FlowTable t(cfg);
  for (uint64_t s = 0; s <= 250; s += 10) t.add(udp4(kA, kB, 1, 2, s * kSec));
  t.flush();
  ASSERT_EQ(t.finished().size(), 3u);
  EXPECT_EQ(t.finished()[0].end_reason, EndReason::Active);
  EXPECT_EQ(t.finished()[0].pkts_fwd, 10u);  // 0..90 s
  EXPECT_EQ(t.finished()[1].first_ns, 100 * kSec);
}

TEST_F(FlowTableTest, ZeroDisablesTimeouts) {
  cfg.timeouts = {0, 0, 0, 0, 10 * kSec};
  FlowTable t(cfg);
  t.add(udp4(kA, kB, 1, 2, 0));
  t.add(udp4(kA, kB, 1, 2, 100000 * kSec));
  t.expire(200000 * kSec);
  EXPECT_TRUE(t.finished().empty());
}

TEST_F(FlowTableTest, FinBothWaysEndsAfterLinger) {
  FlowTable t(cfg);
  t.add(tcp4(kA, kB, 5, 80, kSyn, 0));
  t.add(tcp4(kA, kB, 5, 80, kFin | kAck, 1 * kSec));
  t.add(tcp4(kB, kA, 80, 5, kFin | kAck, 1 * kSec + 1));
  t.add(tcp4(kA, kB, 5, 80, kAck, 1 * kSec + 2));  // last ACK joins the flow
  t.expire(5 * kSec);
  EXPECT_TRUE(t.finished().empty());
  t.expire(12 * kSec);
  ASSERT_EQ(t.finished().size(), 1u);
  EXPECT_EQ(t.finished()[0].end_reason, EndReason::Fin);
  EXPECT_EQ(t.finished()[0].pkts_fwd, 3u);
}

TEST_F(FlowTableTest, NewSynReusingTupleStartsNewFlowAtOnce) {
  FlowTable t(cfg);
  t.add(tcp4(kA, kB, 5, 80, kSyn, 0));
  t.add(tcp4(kB, kA, 80, 5, kRst | kAck, 1));
  t.add(tcp4(kA, kB, 5, 80, kSyn, 2));
  ASSERT_EQ(t.finished().size(), 1u);
  EXPECT_EQ(t.finished()[0].end_reason, EndReason::Rst);
  EXPECT_EQ(t.stats().active, 1u);
}

TEST_F(FlowTableTest, FullTableEvictsLeastRecentlySeen) {
  cfg.max_flows = 2;
  FlowTable t(cfg);
  t.add(udp4(kA, kB, 1, 1, 1 * kSec));
  t.add(udp4(kA, kB, 2, 2, 2 * kSec));
  t.add(udp4(kA, kB, 1, 1, 4 * kSec));  // flow 1 is now the most recent (by more than 1 s)
  t.add(udp4(kA, kB, 3, 3, 5 * kSec));  // evicts flow 2
  ASSERT_EQ(t.finished().size(), 1u);
  EXPECT_EQ(t.finished()[0].src_port, 2);
  EXPECT_EQ(t.finished()[0].end_reason, EndReason::Evicted);
  EXPECT_EQ(t.stats().peak_active, 2u);
  t.flush();
  EXPECT_EQ(t.stats().ended[size_t(EndReason::EndOfInput)], 2u);
  EXPECT_EQ(t.stats().active, 0u);
}

TEST_F(FlowTableTest, VlanAndSymmetricTunnelIdsSeparateFlows) {
  FlowTable t(cfg);
  const Bytes ip = ipv4(kA, kB, 17, udp(1, 2));
  t.add(pkt(eth(0x8100, vlan_tag(10, 0x0800, ip)), 0));
  t.add(pkt(eth(0x8100, vlan_tag(11, 0x0800, ip)), 0));
  t.add(pkt(eth(0x0800, ipv4(kC, kD, 17, udp(9, 4789, vxlan(1, eth(0x0800, ip))))), 0));
  t.add(pkt(eth(0x0800, ipv4(kC, kD, 17, udp(9, 4789, vxlan(2, eth(0x0800, ip))))), 0));
  EXPECT_EQ(t.stats().created, 4u);
}

TEST_F(FlowTableTest, GtpTeidPerDirectionKeepsOneFlow) {
  FlowTable t(cfg);
  t.add(pkt(
      eth(0x0800, ipv4(kC, kD, 17, udp(2152, 2152, gtpu(100, ipv4(kA, kB, 6, tcp(1, 2, kSyn)))))),
      0));
  t.add(pkt(eth(0x0800, ipv4(kD, kC, 17,
                             udp(2152, 2152, gtpu(200, ipv4(kB, kA, 6, tcp(2, 1, kSyn | kAck)))))),
            1));
  t.flush();
  ASSERT_EQ(t.finished().size(), 1u);
  EXPECT_EQ(t.finished()[0].tunnel, TunnelType::GtpU);
  EXPECT_EQ(t.finished()[0].tunnel_id, 100u);
  EXPECT_EQ(t.finished()[0].pkts_rev, 1u);
}

TEST_F(FlowTableTest, TimeGoingBackwardsNeverEndsAFlow) {
  FlowTable t(cfg);
  t.add(udp4(kA, kB, 1, 2, 100 * kSec));
  t.add(udp4(kA, kB, 1, 2, 10 * kSec));
  t.expire(50 * kSec);
  t.flush();
  ASSERT_EQ(t.finished().size(), 1u);
  EXPECT_EQ(t.finished()[0].last_ns, 100 * kSec);
}

// Found by fuzz_pcap: deadlines near the top of the clock must not wrap around.
TEST_F(FlowTableTest, TimesNearTheEndOfTheClockTerminate) {
  FlowTable t(cfg);
  const uint64_t top = ~uint64_t{0} - 5 * kSec;
  t.add(udp4(kA, kB, 1, 2, top));
  t.add(tcp4(kA, kB, 1, 2, kAck, top + 1));
  t.expire(~uint64_t{0});
  t.add(udp4(kA, kB, 1, 2, 0));
  t.expire(~uint64_t{0});
  t.flush();
  EXPECT_EQ(t.stats().created, t.finished().size());
}

TEST_F(FlowTableTest, ManyFlowsChurn) {
  cfg.max_flows = 1000;
  FlowTable t(cfg);
  uint64_t ts = 0;
  for (int round = 0; round < 5; ++round) {
    for (uint16_t i = 0; i < 3000; ++i) t.add(udp4(kA, kB, i, 53, ts += 1000));
  }
  t.flush();
  EXPECT_EQ(t.stats().created, t.finished().size());
  EXPECT_EQ(t.stats().peak_active, 1000u);
  EXPECT_EQ(t.stats().created, 15000u);  // LRU eviction thrashes at 3x capacity
}

// The hash make_flow_key computes from the tuple's fields is the hash of the key it wrote
// (the table finds a flow's slot again from its stored key), both directions give one
// key, and the lower endpoint is memcmp's lower address.
TEST(FlowKey, HashFromFieldsMatchesHashOfStoredKey) {
  std::mt19937 rng(3);
  for (int i = 0; i < 2000; ++i) {
    PacketTuple t;
    for (auto& b : t.src.b) b = static_cast<uint8_t>(rng() % 3);  // equal bytes are common
    for (auto& b : t.dst.b) b = static_cast<uint8_t>(rng() % 3);
    if (i % 5 == 0) t.dst = t.src;
    t.sport = static_cast<uint16_t>(rng() % 4);
    t.dport = static_cast<uint16_t>(rng() % 4);
    t.proto = static_cast<uint8_t>(rng());
    t.ip_version = static_cast<uint8_t>(rng() % 2 ? 4 : 6);
    t.vlan = static_cast<uint16_t>(rng());
    t.vlan_outer = static_cast<uint16_t>(rng());
    t.tunnel = static_cast<TunnelType>(rng() % 5);
    t.tunnel_id = static_cast<uint32_t>(rng());
    t.tunnel_id_symmetric = rng() % 2 != 0;
    PacketTuple r = t;
    std::swap(r.src, r.dst);
    std::swap(r.sport, r.dport);
    FlowKey k, kr;
    uint64_t h, hr;
    const bool lo = make_flow_key(t, k, h);
    const bool lo_r = make_flow_key(r, kr, hr);
    ASSERT_EQ(h, hash_flow_key(k));
    ASSERT_TRUE(k == kr);
    ASSERT_EQ(h, hr);
    const int cmp = std::memcmp(t.src.b, t.dst.b, 16);
    ASSERT_EQ(lo, cmp < 0 || (cmp == 0 && t.sport <= t.dport));
    ASSERT_EQ(lo_r, !lo || (cmp == 0 && t.sport == t.dport));
    EXPECT_EQ(k.tunnel_id, t.tunnel_id_symmetric ? t.tunnel_id : 0u);
    EXPECT_EQ(k.reserved, 0);
  }
}

// The open-addressed index under churn in a tiny table (long probe runs that wrap around
// its end, backward-shift deletions in them): a packet of a live flow always finds it, a
// flow is created only when none is live, and the table holds exactly the live flows.
TEST_F(FlowTableTest, IndexFindsEveryLiveFlowThroughChurn) {
  cfg.max_flows = 37;
  cfg.timeouts.udp_idle_ns = 6 * kSec;
  FlowTable t(cfg);
  std::mt19937 rng(7);
  std::set<uint16_t> live;
  std::size_t seen = 0;
  // Removes the flows that ended since the last call; returns whether `port`'s did.
  auto take_ended = [&](uint16_t port) {
    bool ended = false;
    for (; seen < t.finished().size(); ++seen) {
      const uint16_t p = t.finished()[seen].src_port;
      EXPECT_EQ(live.erase(p), 1u) << "a flow ended twice or was never live: " << p;
      ended |= p == port;
    }
    return ended;
  };
  uint64_t ts = 0;
  for (int i = 0; i < 100000; ++i) {
    const uint16_t port = static_cast<uint16_t>(1 + rng() % 60);
    ts += rng() % (kSec / 4);
    const bool was_live = live.count(port) != 0;
    const uint64_t created = t.stats().created;
    t.add(udp4(kA, kB, port, 53, ts));
    const bool recreated = take_ended(port);
    ASSERT_EQ(t.stats().created - created, (!was_live || recreated) ? 1u : 0u) << "packet " << i;
    live.insert(port);
    if (i % 16 == 0) {
      t.expire(ts);
      take_ended(0);
    }
    ASSERT_EQ(t.stats().active, live.size());
  }
  EXPECT_GT(t.stats().ended[size_t(EndReason::Evicted)], 1000u);
  EXPECT_GT(t.stats().ended[size_t(EndReason::Idle)], 1000u);
  t.flush();
  take_ended(0);
  EXPECT_TRUE(live.empty());
  EXPECT_EQ(t.stats().created, t.finished().size());
}

// A slot's next flow is its next generation: (slot, generation) is a flow's exact identity.
TEST_F(FlowTableTest, AReusedSlotHoldsItsNextGeneration) {
  cfg.max_flows = 1;
  FlowTable t(cfg);
  const FlowUpdate a = t.add(udp4(kA, kB, 1000, 53, 1 * kSec));
  EXPECT_EQ(t.generation(a.slot), 0u);
  const FlowUpdate b = t.add(udp4(kA, kB, 1001, 53, 2 * kSec));  // evicts the first
  EXPECT_EQ(b.slot, a.slot);
  EXPECT_EQ(t.generation(b.slot), 1u);
  t.add(udp4(kA, kB, 1000, 53, 2 * kSec));  // and again
  EXPECT_EQ(t.generation(a.slot), 2u);
  t.add(udp4(kA, kB, 1000, 53, 3 * kSec));  // the same flow as before: no new generation
  EXPECT_EQ(t.generation(a.slot), 2u);
  t.flush();
  ASSERT_EQ(t.finished().size(), 3u);
  for (uint32_t i = 0; i < 3; ++i) {
    EXPECT_EQ(t.finished()[i].slot, a.slot);
    EXPECT_EQ(t.finished()[i].generation, i);
  }
}

TEST_F(FlowTableTest, SelectsTheFirstNPacketsWithPayload) {
  cfg.select.packets = 2;
  FlowTable t(cfg);
  EXPECT_EQ(t.add(tcp4(kA, kB, 5, 443, kSyn, 0)).selection, Selection::NoPayload);
  const FlowUpdate first = t.add(tcp4(kA, kB, 5, 443, kAck, 1, 100));
  EXPECT_EQ(first.selection, Selection::Selected);
  EXPECT_EQ(first.rank, 0);
  EXPECT_TRUE(first.from_client);
  const FlowUpdate second = t.add(tcp4(kB, kA, 443, 5, kAck, 2, 1000));
  EXPECT_EQ(second.selection, Selection::Selected);
  EXPECT_EQ(second.rank, 1);
  EXPECT_FALSE(second.from_client);
  EXPECT_EQ(second.slot, first.slot);
  EXPECT_EQ(t.add(tcp4(kA, kB, 5, 443, kAck, 3, 100)).selection, Selection::FlowHasEnough);
  EXPECT_EQ(t.add(pkt(eth(0x0800, ipv4(kA, kB, 1, Bytes(8, 0))), 4)).selection,
            Selection::NotSelectable);  // ICMP
  const auto& c = t.stats().selection;
  EXPECT_EQ(c[size_t(Selection::Selected)], 2u);
  EXPECT_EQ(c[size_t(Selection::NoPayload)] + c[size_t(Selection::FlowHasEnough)] +
                c[size_t(Selection::NotSelectable)],
            3u);
}

TEST_F(FlowTableTest, SelectionRules) {
  cfg.select.udp = false;
  cfg.select.direction = Direction::ServerToClient;
  cfg.select.min_payload = 50;
  auto ports = std::make_shared<std::bitset<65536>>();
  ports->set(443);
  cfg.select.ports = ports;
  FlowTable t(cfg);
  EXPECT_EQ(t.add(udp4(kA, kB, 5, 443, 0)).selection, Selection::NotSelectable);
  EXPECT_EQ(t.add(tcp4(kA, kB, 5, 80, kAck, 0, 100)).selection, Selection::Port);
  EXPECT_EQ(t.add(tcp4(kA, kB, 6, 443, kAck, 0, 10)).selection, Selection::ShortPayload);
  EXPECT_EQ(t.add(tcp4(kA, kB, 6, 443, kAck, 1, 100)).selection, Selection::WrongDirection);
  EXPECT_EQ(t.add(tcp4(kB, kA, 443, 6, kAck, 2, 100)).selection, Selection::Selected);
  cfg.select.keep_empty = true;
  cfg.select.min_payload = 0;
  cfg.select.direction = Direction::Both;
  FlowTable empty_too(cfg);
  EXPECT_EQ(empty_too.add(tcp4(kA, kB, 6, 443, kSyn, 0)).selection, Selection::Selected);
  DecodedPacket filtered = tcp4(kA, kB, 6, 443, kAck, 1, 10);
  filtered.select_match = false;
  EXPECT_EQ(empty_too.add(filtered).selection, Selection::Filter);
}

TEST(FragmentTracker, LaterFragmentsGetThePortsOfTheFirst) {
  FragmentTracker f(16, 30 * kSec);
  auto first = pkt(
      eth(0x0800, ipv4(kA, kB, 17, udp(1000, 53, Bytes(40, 0)), {.id = 5, .more_fragments = true})),
      0);
  auto later = pkt(eth(0x0800, ipv4(kA, kB, 17, Bytes(16, 0), {.id = 5, .frag_offset = 48})), 1);
  auto other = pkt(eth(0x0800, ipv4(kA, kB, 17, Bytes(16, 0), {.id = 6, .frag_offset = 48})), 1);
  EXPECT_FALSE(f.on_later(later));
  f.on_first(first);
  EXPECT_TRUE(f.on_later(later));
  EXPECT_EQ(later.tuple.sport, 1000);
  EXPECT_EQ(later.tuple.dport, 53);
  EXPECT_FALSE(f.on_later(other));
  auto late = later;
  late.ts_ns = 100 * kSec;
  EXPECT_FALSE(f.on_later(late));  // expired
  EXPECT_EQ(f.stats().matched, 1u);
  EXPECT_EQ(f.stats().unmatched, 3u);
}

TEST(FragmentTracker, MemoryIsBoundedAndOverwritesAreCounted) {
  FragmentTracker f(4, 30 * kSec);
  EXPECT_EQ(f.memory_bytes(), 4 * 64u);
  for (uint16_t id = 0; id < 100; ++id) {
    f.on_first(
        pkt(eth(0x0800, ipv4(kA, kB, 17, udp(1, 2), {.id = id, .more_fragments = true})), 0));
  }
  EXPECT_GE(f.stats().overwritten, 96u);
}

}  // namespace
}  // namespace etcpipe

namespace etcpipe {
namespace {

// Resident set of this process, from /proc/self/statm.
uint64_t rss_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long size = 0, resident = 0;
  const int n = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  return n == 2 ? uint64_t{resident} * uint64_t(sysconf(_SC_PAGESIZE)) : 0;
}

// A table sized for far more flows than a run opens (as the CLI's default, a quarter of
// memory) costs memory in proportion to the flows open: the index grows with them. 20,000
// flows in a table for 2^27 (whose index at full size would be 2 GiB).
TEST(FlowTableMemory, ProportionalToTheFlowsOpenNotToTheCapacity) {
  FlowTableConfig cfg;
  cfg.max_flows = 1u << 27;
  const uint64_t before = rss_bytes();
  FlowTable t(cfg);
  const uint32_t flows = 20000;
  for (uint32_t i = 0; i < flows; ++i) {
    const V4 src{10, uint8_t(i >> 16), uint8_t(i >> 8), uint8_t(i)};
    t.add(udp4(src, kB, uint16_t(1000 + i % 50000), 53, kSec + i));
  }
  EXPECT_EQ(t.stats().active, flows);
  // Entries used, plus an index of at most 4 slots per flow (it doubles at 2 per flow)
  // or its initial size.
  const uint64_t bound = uint64_t{flows} * (128 + 4 * 8) + (uint64_t{1} << 18);
  EXPECT_LE(t.stats().resident_bytes, bound);
  EXPECT_LE(t.resident_bytes(), bound);
  // What the process really touched: the entries' huge pages round up to 2 MiB each (and
  // under AddressSanitizer, its shadow of every page touched, the allocator's quarantine).
#if defined(__SANITIZE_ADDRESS__)
  constexpr uint64_t kSlack = 32u << 20;
#else
  constexpr uint64_t kSlack = 8u << 20;
#endif
  const uint64_t after = rss_bytes();
  if (before != 0 && after != 0) {
    EXPECT_LE(after - std::min(after, before), bound + kSlack);
  }
  // Every flow is still found (the index was rehashed as it grew).
  for (uint32_t i = 0; i < flows; ++i) {
    const V4 src{10, uint8_t(i >> 16), uint8_t(i >> 8), uint8_t(i)};
    t.add(udp4(src, kB, uint16_t(1000 + i % 50000), 53, 2 * kSec + i));
  }
  EXPECT_EQ(t.stats().created, flows);
  t.flush();
  ASSERT_EQ(t.finished().size(), flows);
  for (const FlowRecord& r : t.finished()) EXPECT_EQ(r.pkts_fwd, 2u);
}

}  // namespace
}  // namespace etcpipe
