#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "feature_rows.hpp"
#include "features/batch_extractor.hpp"
#include "features/extractor.hpp"
#include "packet/decoder.hpp"
#include "packet_builder.hpp"

namespace etcpipe {
namespace {

using namespace test;

struct Pkt {
  Bytes frame;
  DecodedPacket meta;
  uint32_t flow;
  bool client;
  bool end = false;
};

Pkt packet(const Bytes& frame, uint64_t ts_ns, uint32_t flow, bool client) {
  Pkt p{frame, {}, flow, client};
  p.meta.ts_ns = ts_ns;
  EXPECT_EQ(decode_packet(linktype::kEthernet, frame, uint32_t(frame.size()), {}, p.meta),
            Outcome::Ok);
  return p;
}
Pkt end_of(uint32_t flow) {
  Pkt p{{}, {}, flow, false};
  p.end = true;
  return p;
}

// Runs the packets through the three extractors; expects the same rows from each and
// returns them (sorted by flow and time).
std::vector<KeptRow> extract(const FeatureSpec& spec, const std::vector<Pkt>& pkts,
                             uint32_t rows = 64, ExtractStats* stats = nullptr) {
  SelectedBatch batch(2048);
  batch.worker = 0;
  for (const Pkt& p : pkts) {
    if (p.end) {
      batch.push_end(p.flow);
    } else {
      batch.push(p.meta, {p.flow, Selection::Selected, 0, p.client}, 0, p.frame);
    }
  }
  KeepingSink ref_sink, stream_sink, batch_sink;
  SinkOutput ref_out(spec, ref_sink), stream_out(spec, stream_sink), batch_out(spec, batch_sink);
  ReferenceExtractor ref(spec, rows, ref_out);
  ref.add(batch);
  ref.finish();
  BatchExtractor bat(spec, rows, 1, 16, batch_out);
  bat.add(batch);
  bat.finish();
  StreamingExtractor stream(spec, rows, 16, 0, 2048, stream_out);
  for (const Pkt& p : pkts) {
    if (p.end) {
      stream.end(p.flow);
    } else {
      stream.packet(p.meta, p.flow, 0, p.client, p.frame);
    }
  }
  stream.hand_over();
  EXPECT_EQ(ref_sink.canonical(), batch_sink.canonical());
  EXPECT_EQ(ref_sink.canonical(), stream_sink.canonical());
  for (const ExtractStats* s : {&bat.stats(), &stream.stats()}) {
    EXPECT_EQ(s->packets, ref.stats().packets);
    EXPECT_EQ(s->flows, ref.stats().flows);
    EXPECT_EQ(s->rows_full, ref.stats().rows_full);
    EXPECT_EQ(s->late, ref.stats().late);
  }
  if (stats != nullptr) *stats = ref.stats();
  auto out = ref_sink.rows;
  std::sort(out.begin(), out.end(), [](const KeptRow& a, const KeptRow& b) {
    return std::tie(a.info.slot, a.info.first_ns) < std::tie(b.info.slot, b.info.first_ns);
  });
  return out;
}

Bytes seq_bytes(std::size_t n, uint8_t first) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = uint8_t(first + i);
  return b;
}

TEST(FeatureSpec, JsonRoundTripAndClearErrors) {
  FeatureSpec s = FeatureSpec::preset("yatc");
  s.addresses = Anonymize::Random;
  s.seed = 42;
  const FeatureSpec t = FeatureSpec::from_json(s.to_json());
  EXPECT_EQ(t.to_json(), s.to_json());
  EXPECT_EQ(t.packets, 5u);
  EXPECT_EQ(t.header_bytes, 80u);
  EXPECT_THROW(FeatureSpec::from_json({{"pakets", 3}}), std::invalid_argument);
  EXPECT_THROW(FeatureSpec::from_json({{"packets", 0}}), std::invalid_argument);
  EXPECT_THROW(FeatureSpec::from_json({{"start", "l2"}}), std::invalid_argument);
  EXPECT_THROW(FeatureSpec::from_json({{"header_bytes", 10}}), std::invalid_argument);
  EXPECT_THROW(FeatureSpec::preset("deep"), std::invalid_argument);
  EXPECT_EQ(stat_names().size(), kStatCount);
  EXPECT_EQ(stat_names()[10], "fwd_packets");
}

// Rows of a pool far larger than the caches are written by the streaming extractor a whole
// cache line at a time (non-temporal stores, partial lines held until the next packet): the
// same rows as the reference, for payload rows and anonymized header rows, complete and
// short flows, slots starting at every alignment.
TEST(Extractors, LargePoolsWrittenByWholeLinesGiveTheSameRows) {
  constexpr uint32_t kRows = 65536;  // x 4 x 1000 bytes: 262 MB reserved, over 8x any L2
  for (ByteStart start : {ByteStart::Payload, ByteStart::L3}) {
    FeatureSpec spec;
    spec.packets = 4;
    spec.bytes = 1000;
    spec.start = start;
    spec.addresses = Anonymize::Random;
    spec.pad = 0xAB;
    std::vector<Pkt> pkts;
    const uint64_t t0 = 1'000'000'000;
    for (uint32_t round = 0; round < 4; ++round) {
      for (uint32_t f = 1; f <= 9; ++f) {
        if (round > f % 4) continue;  // flows of 1 to 4 packets, interleaved
        const auto port = static_cast<uint16_t>(40000 + f);
        pkts.push_back(
            packet(eth(0x0800, ipv4(kA, kB, 6,
                                    tcp(port, 443, 0x18,
                                        seq_bytes(300 * f + 37 * round, static_cast<uint8_t>(f))))),
                   t0 + round * 1000 + f, f, true));
      }
    }
    for (uint32_t f = 1; f <= 9; ++f) pkts.push_back(end_of(f));
    EXPECT_EQ(extract(spec, pkts, kRows).size(), 9u);
  }
}

TEST(Extractors, PayloadRowsSequencesAndStatistics) {
  FeatureSpec spec;
  spec.packets = 3;
  spec.bytes = 64;
  spec.pad = 0xEE;
  const uint64_t t0 = 1'000'000'000;
  const std::vector<Pkt> pkts = {
      packet(eth(0x0800, ipv4(kA, kB, 6, tcp(40000, 443, 0x18, seq_bytes(100, 0)))), t0, 3, true),
      packet(eth(0x0800, ipv4(kB, kA, 6, tcp(443, 40000, 0x18, seq_bytes(10, 7)))), t0 + 500'000, 3,
             false),
      packet(eth(0x0800, ipv4(kA, kB, 6, tcp(40000, 443, 0x11, seq_bytes(20, 9)))), t0 + 2'500'000,
             3, true),
      packet(eth(0x0800, ipv4(kA, kB, 6, tcp(40000, 443, 0x10, seq_bytes(5, 1)))), t0 + 3'000'000,
             3,
             true),  // a 4th packet: past N (lost copies upstream would do this)
  };
  ExtractStats st;
  const auto rows = extract(spec, pkts, 64, &st);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(st.packets, 3u);
  EXPECT_EQ(st.late, 1u);
  const KeptRow& r = rows[0];
  EXPECT_EQ(r.info.tuple.sport, 40000);  // oriented client -> server
  EXPECT_EQ(r.info.packets, 3u);
  EXPECT_EQ(r.matrix[0], 0);  // payload only, truncated to L
  EXPECT_EQ(r.matrix[63], 63);
  EXPECT_EQ(r.matrix[64], 7);  // second packet: 10 bytes then padding
  EXPECT_EQ(r.matrix[64 + 9], 16);
  EXPECT_EQ(r.matrix[64 + 10], 0xEE);
  EXPECT_EQ(r.sizes, (std::vector<int32_t>{140, -50, 60}));
  EXPECT_EQ(r.payloads, (std::vector<int32_t>{100, 10, 20}));
  EXPECT_EQ(r.flags, (std::vector<uint8_t>{0x18, 0x18, 0x11}));
  EXPECT_FLOAT_EQ(r.iats[1], 0.0005f);
  EXPECT_FLOAT_EQ(r.iats[2], 0.002f);
  const auto& names = stat_names();
  auto stat = [&](std::string_view name) {
    return r.stats[std::find(names.begin(), names.end(), name) - names.begin()];
  };
  EXPECT_EQ(stat("all_packets"), 3);
  EXPECT_EQ(stat("fwd_bytes"), 200);
  EXPECT_EQ(stat("bwd_size_max"), 50);
  EXPECT_FLOAT_EQ(stat("all_size_mean"), 250.0f / 3);
  EXPECT_FLOAT_EQ(stat("fwd_iat_mean"), 0.0025f);  // between the client's two packets
  EXPECT_FLOAT_EQ(stat("duration"), 0.0025f);
  EXPECT_EQ(stat("psh_count"), 2);
  EXPECT_EQ(stat("fin_count"), 1);
}

// Every statistic against its definition, computed here from the packet times and sizes:
// both directions mixed, one direction only (the other's series empty), a single packet.
TEST(Extractors, StatisticsMatchTheirDefinitions) {
  FeatureSpec spec;
  spec.packets = 16;
  spec.matrix = false;
  FeatureRows rows(spec, 3);
  uint64_t x = 0x9E3779B97F4A7C15ull;
  auto next = [&] { return x ^= x << 13, x ^= x >> 7, x ^= x << 17; };
  const uint32_t lengths[] = {16, 7, 1};
  for (uint32_t r = 0; r < 3; ++r) {
    rows.info(r).packets = lengths[r];
    for (uint32_t i = 0; i < lengths[r]; ++i) {
      const auto len = int32_t(1 + next() % 1500);
      rows.sizes(r)[i] = (r == 1 || next() % 3 != 0) ? len : -len;
      rows.iats(r)[i] = i == 0 ? 0.0f : float(next() % 5000) * 1e-5f;
      rows.flags(r)[i] = uint8_t(next());
    }
  }
  const auto& names = stat_names();
  for (uint32_t r = 0; r < 3; ++r) {
    std::vector<double> sizes[3], gaps[3], times;  // all, fwd, bwd
    double t = 0;
    uint32_t flags[8] = {};
    for (uint32_t i = 0; i < lengths[r]; ++i) {
      const int32_t size = rows.sizes(r)[i];
      const int d = size >= 0 ? 1 : 2;
      t += rows.iats(r)[i];
      if (i > 0) gaps[0].push_back(rows.iats(r)[i]);
      for (uint32_t j = i; j-- > 0;) {  // the previous packet the same way
        if ((rows.sizes(r)[j] >= 0) == (d == 1)) {
          gaps[d].push_back(t - times[j]);
          break;
        }
      }
      times.push_back(t);
      for (int s : {0, d}) sizes[s].push_back(std::abs(size));
      for (int b = 0; b < 8; ++b) flags[b] += rows.flags(r)[i] >> b & 1;
    }
    std::map<std::string, double> want;
    const char* const dirs[] = {"all", "fwd", "bwd"};
    for (int d = 0; d < 3; ++d) {
      auto put = [&](const std::string& what, const std::vector<double>& v) {
        double sum = 0, var = 0;
        for (double e : v) sum += e;
        const double mean = v.empty() ? 0 : sum / double(v.size());
        for (double e : v) var += (e - mean) * (e - mean);
        want[std::string(dirs[d]) + "_" + what + "_min"] =
            v.empty() ? 0 : *std::min_element(v.begin(), v.end());
        want[std::string(dirs[d]) + "_" + what + "_max"] =
            v.empty() ? 0 : *std::max_element(v.begin(), v.end());
        want[std::string(dirs[d]) + "_" + what + "_mean"] = mean;
        want[std::string(dirs[d]) + "_" + what + "_std"] =
            v.empty() ? 0 : std::sqrt(var / double(v.size()));
      };
      put("size", sizes[d]);
      put("iat", gaps[d]);
      want[std::string(dirs[d]) + "_packets"] = double(sizes[d].size());
      double bytes = 0;
      for (double e : sizes[d]) bytes += e;
      want[std::string(dirs[d]) + "_bytes"] = bytes;
    }
    want["duration"] = t;
    const char* const flag_names[] = {"fin", "syn", "rst", "psh", "ack", "urg", "ece", "cwr"};
    for (int b = 0; b < 8; ++b) want[std::string(flag_names[b]) + "_count"] = flags[b];
    ASSERT_EQ(want.size(), kStatCount);
    std::vector<float> got(kStatCount);
    compute_stats(rows, r, got.data());
    for (std::size_t k = 0; k < kStatCount; ++k) {
      const double w = want.at(names[k]);
      EXPECT_NEAR(got[k], w, 1e-5 * std::max(1.0, std::abs(w))) << "row " << r << " " << names[k];
    }
  }
}

TEST(Extractors, HeadersFromL3AreAnonymized) {
  FeatureSpec spec;
  spec.packets = 2;
  spec.bytes = 80;
  spec.start = ByteStart::L3;
  // A TCP header with a timestamps option (NOP NOP TS) and 4 payload bytes.
  Bytes seg = tcp(40000, 443, 0x18, {}, 3);
  seg[20] = 1;
  seg[21] = 1;
  seg[22] = 8;
  seg[23] = 10;
  for (int i = 24; i < 32; ++i) seg[i] = 0x55;
  seg = cat(seg, {0xDE, 0xAD, 0xBE, 0xEF});
  const std::vector<Pkt> pkts = {packet(eth(0x0800, ipv4(kA, kB, 6, seg)), 1000, 1, true),
                                 end_of(1)};
  const auto rows = extract(spec, pkts);
  ASSERT_EQ(rows.size(), 1u);
  const auto& m = rows[0].matrix;
  EXPECT_EQ(m[0], 0x45);                                  // the IPv4 header is there...
  for (int i = 12; i < 20; ++i) EXPECT_EQ(m[i], 0) << i;  // ...without addresses
  for (int i = 20; i < 24; ++i) EXPECT_EQ(m[i], 0) << "port byte " << i;
  for (int i = 24; i < 32; ++i) EXPECT_EQ(m[i], 0) << "seq/ack byte " << i;
  EXPECT_EQ(m[33], 0x18);  // flags kept
  for (int i = 44; i < 52; ++i) EXPECT_EQ(m[i], 0) << "timestamp byte " << i;
  EXPECT_EQ(m[42], 8);  // option kind kept
  EXPECT_EQ(m[52], 0xDE);
  EXPECT_EQ(m[55], 0xEF);
  EXPECT_EQ(m[56], 0);  // pad
}

TEST(Extractors, RandomAddressesAreConsistentPerFlowAndSplitLayout) {
  FeatureSpec spec = FeatureSpec::preset("yatc");
  spec.addresses = Anonymize::Random;
  spec.seed = 7;
  const std::vector<Pkt> pkts = {
      packet(eth(0x0800, ipv4(kA, kB, 17, udp(5000, 53, seq_bytes(30, 1)))), 10, 2, true),
      packet(eth(0x0800, ipv4(kB, kA, 17, udp(53, 5000, seq_bytes(300, 2)))), 20, 2, false),
      end_of(2)};
  const auto rows = extract(spec, pkts);
  ASSERT_EQ(rows.size(), 1u);
  const auto& m = rows[0].matrix;
  const uint8_t* up = m.data();
  const uint8_t* down = m.data() + spec.bytes;
  EXPECT_EQ(Bytes(up + 12, up + 16), Bytes(down + 16, down + 20));  // client address
  EXPECT_EQ(Bytes(up + 16, up + 20), Bytes(down + 12, down + 16));  // server address
  EXPECT_NE(Bytes(up + 12, up + 16), Bytes(kA.begin(), kA.end()));
  EXPECT_EQ(Bytes(up + 20, up + 22), Bytes(down + 22, down + 24));  // client port
  EXPECT_EQ(up[28], 0);  // header region padded after the 28 header bytes
  EXPECT_EQ(up[80], 1);  // payload region starts at 80
  EXPECT_EQ(down[80 + 239], uint8_t(2 + 239));
}

TEST(Extractors, ASlotEndedAndReusedInOneBatchGivesTwoFlows) {
  FeatureSpec spec;
  spec.packets = 4;
  spec.bytes = 16;
  const Bytes a = eth(0x0800, ipv4(kA, kB, 17, udp(1, 2, seq_bytes(8, 1))));
  const Bytes b = eth(0x0800, ipv4(kA, kB, 17, udp(3, 4, seq_bytes(8, 100))));
  const std::vector<Pkt> pkts = {packet(a, 1, 5, true),
                                 packet(a, 2, 5, true),
                                 end_of(5),
                                 packet(b, 3, 5, true),
                                 packet(a, 4, 6, true),
                                 end_of(5),
                                 end_of(6)};
  const auto rows = extract(spec, pkts);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].info.packets, 2u);
  EXPECT_EQ(rows[1].info.packets, 1u);
  EXPECT_EQ(rows[1].matrix[0], 100);
  EXPECT_EQ(rows[2].info.slot, 6u);
}

TEST(Extractors, NoFreeRowIsCountedAndTheFlowSkippedToItsEnd) {
  FeatureSpec spec;
  spec.packets = 2;
  spec.bytes = 8;
  const Bytes a = eth(0x0800, ipv4(kA, kB, 17, udp(1, 2, seq_bytes(8, 1))));
  const std::vector<Pkt> pkts = {packet(a, 1, 1, true), packet(a, 2, 2, true),
                                 packet(a, 3, 2, true), end_of(1), end_of(2)};
  ExtractStats st;
  const auto rows = extract(spec, pkts, 1, &st);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].info.slot, 1u);
  EXPECT_EQ(st.rows_full, 1u);
  EXPECT_EQ(st.packets, 1u);
}

// A streaming extractor of N-packet rows of 8 bytes over 16 flow slots, and UDP packets
// from the client to it.
struct StreamingRig {
  static FeatureSpec spec_of(uint32_t packets) {
    FeatureSpec s;
    s.packets = packets;
    s.bytes = 8;
    return s;
  }
  StreamingRig(uint32_t packets, uint32_t rows, uint64_t row_timeout_ns = 0)
      : spec(spec_of(packets)), out(spec, sink), x(spec, rows, 16, 0, 2048, out, row_timeout_ns) {}
  void add(uint64_t ts, uint32_t flow) {
    const Pkt p = packet(a, ts, flow, true);
    x.packet(p.meta, flow, 0, true, p.frame);
  }
  FeatureSpec spec;
  const Bytes a = eth(0x0800, ipv4(kA, kB, 17, udp(1, 2, seq_bytes(8, 1))));
  KeepingSink sink;
  SinkOutput out;
  StreamingExtractor x;
};

TEST(Extractors, StreamingEndSaysWhichFlowsHadNoRow) {
  StreamingRig rig(2, 1);
  StreamingExtractor& x = rig.x;
  rig.add(100, 1);
  rig.add(200, 2);
  EXPECT_EQ(x.end(1), RowFate::Handed);  // had the only row
  EXPECT_EQ(x.end(2), RowFate::NoRow);   // found it in use
  EXPECT_EQ(x.end(3), RowFate::Handed);  // no packet at all
  EXPECT_EQ(x.stats().rows_full, 1u);
}

// An output that never has room: a live link's consumer far behind.
class FullOutput final : public FeatureOutput {
 public:
  FeatureBatch* batch() override { return nullptr; }
  void hand_over() override {}
};

// A row dropped for want of room, complete (N-th packet) or finished at the flow's end, is
// told at the end, so that its record goes out without waiting for a verdict.
TEST(Extractors, StreamingEndSaysWhichRowsWereDropped) {
  const FeatureSpec spec = StreamingRig::spec_of(2);
  FullOutput out;
  StreamingExtractor x(spec, 4, 16, 0, 2048, out, 0);
  const Bytes a = eth(0x0800, ipv4(kA, kB, 17, udp(1, 2, seq_bytes(8, 1))));
  auto add = [&](uint64_t ts, uint32_t flow) {
    const Pkt p = packet(a, ts, flow, true);
    x.packet(p.meta, flow, 0, true, p.frame);
  };
  add(100, 1);
  add(200, 1);  // complete: dropped now
  add(300, 1);  // a later packet of a dropped row: ignored
  add(400, 2);  // one packet: dropped at the end
  EXPECT_EQ(x.end(1), RowFate::Dropped);
  EXPECT_EQ(x.end(2), RowFate::Dropped);
  EXPECT_EQ(x.stats().output_dropped, 2u);
  EXPECT_EQ(x.stats().late, 0u);
  add(500, 1);  // the slot's next flow starts afresh (the rows went back to the pool)
  EXPECT_EQ(x.end(1), RowFate::Dropped);
  EXPECT_EQ(x.stats().rows_full, 0u);
}

// Packets of one source batch are not interrupted by expire(): a row whose timeout passes
// between two of its flow's packets is finished before the later one all the same.
TEST(Extractors, StreamingRowTimeoutHoldsBetweenTwoPacketsOfOneBatch) {
  StreamingRig rig(10, 8, 1000);
  KeepingSink& sink = rig.sink;
  for (uint64_t ts = 100; ts < 2100; ts += 200) rig.add(ts, 1);  // 10 packets, 1.8 timeouts
  rig.x.end(1);
  rig.x.hand_over();
  ASSERT_EQ(sink.rows.size(), 1u);
  EXPECT_EQ(sink.rows[0].info.packets, 5u);  // 100..900; 1100 came at the timeout
  EXPECT_EQ(sink.rows[0].info.timed_out, 1u);
  EXPECT_EQ(sink.rows[0].info.last_ns, 900u);
}

TEST(Extractors, StreamingRowTimeoutFinishesShortRowsOnceAndIgnoresTheirLaterPackets) {
  constexpr uint64_t kTimeout = 1000;
  StreamingRig rig(3, 8, kTimeout);
  KeepingSink& sink = rig.sink;
  StreamingExtractor& x = rig.x;
  rig.add(100, 1);  // flow 1: one packet, then quiet
  rig.add(200, 2);  // flow 2: its 3 packets before its timeout
  rig.add(300, 2);
  rig.add(400, 2);
  x.expire(1099);  // nothing due yet
  x.hand_over();
  ASSERT_EQ(sink.rows.size(), 1u);  // flow 2, complete
  rig.add(1050, 1);                 // flow 1's second packet, before its timeout
  x.expire(1100);                   // flow 1 due: finished with 2 packets
  x.hand_over();
  ASSERT_EQ(sink.rows.size(), 2u);
  EXPECT_EQ(sink.rows[1].info.slot, 1u);
  EXPECT_EQ(sink.rows[1].info.packets, 2u);
  EXPECT_EQ(sink.rows[1].info.timed_out, 1u);
  EXPECT_EQ(sink.rows[0].info.timed_out, 0u);
  rig.add(1200, 1);  // ignored: its row went out
  x.end(1);          // emits nothing more
  x.end(2);
  rig.add(1300, 1);  // slot 1 reused by a new flow after the end: a new row
  x.expire(2299);
  x.end(1);
  x.hand_over();
  ASSERT_EQ(sink.rows.size(), 3u);
  EXPECT_EQ(sink.rows[2].info.first_ns, 1300u);
  EXPECT_EQ(sink.rows[2].info.timed_out, 0u);  // ended before its timeout
  EXPECT_EQ(x.stats().flows, 3u);
}

// Rows never used are handed out in order after the released ones, so a pool sized for
// every flow touches only as many rows as were in use at once.
TEST(RowPool, ReleasedRowsFirstThenFreshOnesUntilTheCapacity) {
  FeatureSpec spec;
  RowPool pool(spec, 4);
  EXPECT_EQ(pool.alloc(), 0u);
  EXPECT_EQ(pool.alloc(), 1u);
  pool.release(0);
  EXPECT_EQ(pool.alloc(), 0u);
  std::vector<uint32_t>& free = pool.free_list(3);  // the batch extractor's way
  EXPECT_EQ(free, (std::vector<uint32_t>{3, 2}));   // only two left, the lowest at the back
  free.pop_back();
  EXPECT_EQ(pool.alloc(), 3u);
  EXPECT_EQ(pool.alloc(), RowPool::kNoRow);
}

}  // namespace
}  // namespace etcpipe
