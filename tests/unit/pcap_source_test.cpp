#include "capture/pcap_source.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "capture/mapped_capture.hpp"
#include "packet_builder.hpp"
#include "pipeline/flow_pipeline.hpp"

namespace etcpipe {
namespace {

using namespace test;
namespace fs = std::filesystem;

struct Pkt {
  uint32_t sec, frac;
  Bytes data;
};

void put(Bytes& b, uint32_t v, bool big) {
  for (int i = 0; i < 4; ++i) b.push_back(uint8_t(v >> (big ? 24 - 8 * i : 8 * i)));
}
void put_16(Bytes& b, uint16_t v, bool big) {
  b.push_back(uint8_t(big ? v >> 8 : v));
  b.push_back(uint8_t(big ? v : v >> 8));
}

// A classic pcap file in either byte order, micro- or nanosecond resolution.
Bytes pcap_file(const std::vector<Pkt>& pkts, bool big, bool nano, uint32_t dlt = 1) {
  Bytes b;
  put(b, nano ? 0xa1b23c4d : 0xa1b2c3d4, big);
  put_16(b, 2, big);
  put_16(b, 4, big);
  put(b, 0, big);
  put(b, 0, big);
  put(b, 65535, big);
  put(b, dlt, big);
  for (const auto& p : pkts) {
    put(b, p.sec, big);
    put(b, p.frac, big);
    put(b, uint32_t(p.data.size()), big);
    put(b, uint32_t(p.data.size()), big);
    b.insert(b.end(), p.data.begin(), p.data.end());
  }
  return b;
}

void pcapng_block(Bytes& b, uint32_t type, const Bytes& body) {
  const uint32_t len = uint32_t(12 + body.size());
  put(b, type, false);
  put(b, len, false);
  b.insert(b.end(), body.begin(), body.end());
  put(b, len, false);
}

// An Interface Description Block's body: link type, snap length, if_tsresol.
Bytes pcapng_idb(uint16_t linktype, uint8_t tsresol) {
  Bytes idb;
  put_16(idb, linktype, false);
  put_16(idb, 0, false);
  put(idb, 65535, false);
  put_16(idb, 9, false);  // if_tsresol
  put_16(idb, 1, false);
  idb.insert(idb.end(), {tsresol, 0, 0, 0});  // padded
  put(idb, 0, false);                         // opt_endofopt
  return idb;
}

// An Enhanced Packet Block's body: the time in the interface's units.
Bytes pcapng_epb(uint32_t iface, uint64_t ts, const Bytes& data) {
  Bytes epb;
  put(epb, iface, false);
  put(epb, uint32_t(ts >> 32), false);
  put(epb, uint32_t(ts), false);
  put(epb, uint32_t(data.size()), false);
  put(epb, uint32_t(data.size()), false);
  epb.insert(epb.end(), data.begin(), data.end());
  while (epb.size() % 4) epb.push_back(0);
  return epb;
}

// A pcapng section header's body: little-endian, version 1.0, section length unknown.
Bytes pcapng_shb() {
  Bytes shb;
  put(shb, 0x1A2B3C4D, false);
  put_16(shb, 1, false);
  put_16(shb, 0, false);
  put(shb, 0xFFFFFFFF, false);
  put(shb, 0xFFFFFFFF, false);
  return shb;
}

// A minimal pcapng file: section header, one Ethernet interface with nanosecond
// resolution, enhanced packet blocks.
Bytes pcapng_file(const std::vector<Pkt>& pkts) {
  Bytes b;
  auto block = [&](uint32_t type, const Bytes& body) { pcapng_block(b, type, body); };
  block(0x0A0D0D0A, pcapng_shb());
  block(0x00000001, pcapng_idb(1, 9));  // Ethernet, 10^-9
  for (const auto& p : pkts) {
    block(0x00000006, pcapng_epb(0, uint64_t(p.sec) * 1000000000ULL + p.frac, p.data));
  }
  return b;
}

class PcapSourceTest : public ::testing::Test {
 protected:
  fs::path dir = fs::temp_directory_path() / ("etcpipe_pcap_test_" + std::to_string(getpid()));
  std::vector<std::string> warnings;
  void SetUp() override { fs::create_directories(dir); }
  void TearDown() override { fs::remove_all(dir); }
  std::string write(const std::string& name, const Bytes& b) {
    const auto path = (dir / name).string();
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(b.data()), long(b.size()));
    return path;
  }
  PcapFileSource source(std::vector<std::string> files, std::string bpf = "",
                        bool in_place = true) {
    return PcapFileSource(
        std::move(files), std::move(bpf), [this](const std::string& m) { warnings.push_back(m); },
        in_place);
  }
  // A file that yields nothing must be a read error of that file, whichever reader.
  void expect_read_error(const std::string& name, const Bytes& b) {
    const auto path = write(name, b);
    for (bool in_place : {true, false}) {
      warnings.clear();
      auto s = source({path}, "", in_place);
      EXPECT_EQ(read_all(s).size(), 0u) << name << " in place " << in_place;
      EXPECT_EQ(s.stats().read_errors, 1u) << name << " in place " << in_place;
      EXPECT_EQ(s.open_failures(), 0u) << name << " in place " << in_place;
      ASSERT_EQ(warnings.size(), 1u) << name << " in place " << in_place;
      EXPECT_NE(warnings[0].find(name), std::string::npos) << warnings[0];
    }
  }
  // Reads everything; returns (timestamps, total packets delivered).
  std::vector<uint64_t> read_all(PacketSource& s) {
    std::vector<uint64_t> ts;
    PacketBatch batch;
    while (s.next_batch(batch)) {
      for (uint32_t i = 0; i < batch.size(); ++i) ts.push_back(batch.ref(i).ts_ns);
    }
    return ts;
  }
  const std::vector<Pkt> pkts = {{100, 5, eth(0x0800, ipv4(kA, kB, 6, tcp(1, 80, 0x02)))},
                                 {101, 999999, eth(0x0800, ipv4(kB, kA, 6, tcp(80, 1, 0x12)))},
                                 {102, 0, eth(0x0800, ipv4(kA, kB, 17, udp(5, 53)))}};
};

TEST_F(PcapSourceTest, BothByteOrdersAndResolutions) {
  for (bool big : {false, true}) {
    for (bool nano : {false, true}) {
      auto s = source({write("f.pcap", pcap_file(pkts, big, nano))});
      const auto ts = read_all(s);
      ASSERT_EQ(ts.size(), 3u) << big << nano;
      EXPECT_EQ(ts[0], 100 * 1000000000ULL + (nano ? 5 : 5000));
      EXPECT_EQ(ts[1], 101 * 1000000000ULL + (nano ? 999999 : 999999000));
      EXPECT_EQ(s.stats().packets, 3u);
    }
  }
  EXPECT_TRUE(warnings.empty());
}

TEST_F(PcapSourceTest, Pcapng) {
  auto s = source({write("f.pcapng", pcapng_file(pkts))});
  const auto ts = read_all(s);
  ASSERT_EQ(ts.size(), 3u);
  EXPECT_EQ(ts[1], 101 * 1000000000ULL + 999999);
}

TEST_F(PcapSourceTest, TruncatedFileKeepsWhatWasReadAndWarns) {
  Bytes b = pcap_file(pkts, false, false);
  b.resize(b.size() - 10);
  auto s = source({write("t.pcap", b)});
  EXPECT_EQ(read_all(s).size(), 2u);
  EXPECT_EQ(s.stats().read_errors, 1u);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("t.pcap"), std::string::npos);
}

TEST_F(PcapSourceTest, BothReadersGiveTheSamePackets) {
  std::vector<Bytes> files = {pcap_file(pkts, false, false), pcap_file(pkts, true, true),
                              pcapng_file(pkts)};
  for (std::size_t f = 0; f < files.size(); ++f) {
    const auto path = write("f" + std::to_string(f), files[f]);
    for (bool in_place : {true, false}) {
      auto s = source({path}, "", in_place);
      PacketBatch batch;
      ASSERT_TRUE(s.next_batch(batch));
      ASSERT_EQ(batch.size(), 3u);
      for (uint32_t i = 0; i < 3; ++i) {
        const auto bytes = batch.bytes(i);
        EXPECT_EQ(Bytes(bytes.begin(), bytes.end()), pkts[i].data) << f << " " << i;
        EXPECT_EQ(batch.ref(i).wire_len, pkts[i].data.size());
      }
    }
  }
}

// Interfaces with their own time resolutions (pcapng): each packet's time in its own.
TEST_F(PcapSourceTest, PcapngInterfacesWithTheirOwnResolutions) {
  Bytes b;
  pcapng_block(b, 0x0A0D0D0A, pcapng_shb());
  pcapng_block(b, 1, pcapng_idb(1, 6));     // microseconds
  pcapng_block(b, 1, pcapng_idb(1, 0x83));  // 1/8 s
  pcapng_block(b, 6, pcapng_epb(0, 100'000'005, pkts[0].data));
  pcapng_block(b, 6, pcapng_epb(1, 8 * 101 + 3, pkts[1].data));
  pcapng_block(b, 5, Bytes(8, 0));  // a statistics block: skipped
  pcapng_block(b, 6, pcapng_epb(0, 102'000'000, pkts[2].data));
  const auto path = write("two.pcapng", b);
  for (bool in_place : {true, false}) {
    auto s = source({path}, "", in_place);
    const auto ts = read_all(s);
    ASSERT_EQ(ts.size(), 3u);
    EXPECT_EQ(ts[0], 100'000'005'000ULL);
    EXPECT_EQ(ts[1], 101'375'000'000ULL);
    EXPECT_EQ(ts[2], 102'000'000'000ULL);
  }
  EXPECT_TRUE(warnings.empty());
  // A second interface of another link type: libpcap stops there, and so does the reader.
  Bytes mixed = b;
  pcapng_block(mixed, 1, pcapng_idb(101, 6));
  pcapng_block(mixed, 6, pcapng_epb(2, 103'000'000, pkts[0].data));
  const auto mixed_path = write("mixed.pcapng", mixed);
  for (bool in_place : {true, false}) {
    warnings.clear();
    auto s = source({mixed_path}, "", in_place);
    EXPECT_EQ(read_all(s).size(), 3u);
    EXPECT_EQ(s.stats().read_errors, 1u);
    EXPECT_EQ(warnings.size(), 1u);
  }
}

TEST_F(PcapSourceTest, PcapHeaderThenRandomBytesIsAReadError) {
  Bytes b = pcap_file({}, false, false);
  std::mt19937 rng(19);
  for (int i = 0; i < 4096; ++i) b.push_back(uint8_t(rng()));
  expect_read_error("random.pcap", b);
}

// Another process truncates the file while it is read in place: the reads past its new end
// fault (SIGBUS) and are turned into zeros, and the reader stops with a read error.
TEST_F(PcapSourceTest, AFileTruncatedWhileMappedIsAReadErrorNotACrash) {
  std::vector<Pkt> many;
  for (uint32_t i = 0; i < 256; ++i) many.push_back({i, 0, Bytes(1000, uint8_t(i))});
  const auto path = write("shrinks.pcap", pcap_file(many, false, false));
  std::string error;
  const auto file = FileMapping::open(path, error);
  ASSERT_TRUE(file) << error;
  MappedCapture::Format format;
  bool swapped = false;
  ASSERT_TRUE(MappedCapture::handles(file->data(), file->size(), format, swapped));
  MappedCapture reader(*file, format, swapped, 1, 65535);
  CaptureRecord r{};
  ASSERT_EQ(reader.next(r, error), 1);
  ASSERT_EQ(truncate(path.c_str(), 100), 0);
  int rc = 1, records = 1;
  while (rc == 1 && records <= 256) {
    rc = reader.next(r, error);
    records += rc == 1;
  }
  EXPECT_EQ(rc, -1);
  EXPECT_EQ(error, "the file was truncated while it was read");
  EXPECT_TRUE(file->truncated());
  EXPECT_LT(records, 256);
}

TEST_F(PcapSourceTest, HugeCaplenIsAReadError) {
  Bytes b = pcap_file({}, false, false);
  put(b, 100, false);
  put(b, 0, false);
  put(b, 0x7fffffff, false);  // caplen
  put(b, 0x7fffffff, false);
  b.insert(b.end(), 64, 0);
  expect_read_error("caplen.pcap", b);
}

TEST_F(PcapSourceTest, PcapngFirstPacketBlockWithABadLengthIsAReadError) {
  const Bytes good = pcapng_file({});
  for (uint32_t length : {0u, 12u, 13u, 0xfffffff0u}) {
    Bytes b = good;
    put(b, 6, false);
    put(b, length, false);
    b.insert(b.end(), 40, 0);
    put(b, length, false);
    expect_read_error("len" + std::to_string(length) + ".pcapng", b);
  }
  Bytes b = good;
  pcapng_block(b, 6, pcapng_epb(0, 1, pkts[0].data));
  b[b.size() - 4] ^= 0x40;  // the trailer's length no longer matches
  expect_read_error("trailer.pcapng", b);
}

TEST_F(PcapSourceTest, UnreadableFilesAreReportedAndSkipped) {
  const auto good = write("good.pcap", pcap_file(pkts, false, false));
  auto s = source({write("junk.pcap", Bytes(100, 0x42)), good});
  EXPECT_EQ(read_all(s).size(), 3u);
  EXPECT_EQ(s.open_failures(), 1u);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("junk.pcap"), std::string::npos);
}

TEST_F(PcapSourceTest, BpfFilterCountsWhatItRejects) {
  auto s = source({write("f.pcap", pcap_file(pkts, false, false))}, "udp");
  EXPECT_EQ(read_all(s).size(), 1u);
  EXPECT_EQ(s.stats().packets, 3u);
  EXPECT_EQ(s.stats().filtered, 2u);
  EXPECT_THROW(source({}, "tcp and and"), std::runtime_error);
}

TEST_F(PcapSourceTest, BatchesNeverMixLinkTypes) {
  Bytes raw_pkt = ipv4(kA, kB, 17, udp(1, 2));
  const auto a = write("a.pcap", pcap_file(pkts, false, false));
  const auto b = write("b.pcap", pcap_file({{1, 0, raw_pkt}}, false, false, 101));
  auto s = source({a, b});
  PacketBatch batch;
  std::vector<std::pair<int, uint32_t>> seen;
  while (s.next_batch(batch)) {
    if (batch.size()) seen.emplace_back(batch.dlt, batch.size());
  }
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], std::make_pair(1, 3u));
  EXPECT_EQ(seen[1].second, 1u);
  EXPECT_NE(seen[1].first, 1);
}

TEST_F(PcapSourceTest, DirectoriesExpandToTheirFilesInOrder) {
  write("b.pcap", pcap_file(pkts, false, false));
  write("a.pcap", pcap_file(pkts, false, false));
  const auto files = expand_capture_paths({dir.string()});
  ASSERT_EQ(files.size(), 2u);
  EXPECT_TRUE(files[0].ends_with("a.pcap"));
  EXPECT_THROW(expand_capture_paths({(dir / "missing").string()}), std::runtime_error);
}

TEST_F(PcapSourceTest, UnknownLinkTypeIsNamedAndCounted) {
  auto s = source({write("w.pcap", pcap_file(pkts, false, false, 105))});
  FlowPipeline pipe({});
  PacketBatch batch;
  while (s.next_batch(batch)) pipe.process(batch);
  EXPECT_EQ(pipe.packet_stage().outcomes()[size_t(Outcome::UnknownLinktype)], 3u);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("IEEE802_11"), std::string::npos) << warnings[0];
}

TEST_F(PcapSourceTest, EveryPacketHasExactlyOneOutcome) {
  std::vector<Pkt> mix = pkts;
  mix.push_back({103, 0, eth(0x0806, Bytes(28, 0))});  // ARP
  mix.push_back({104, 0, Bytes(10, 0)});               // runt
  mix.push_back(
      {105, 0, eth(0x0800, ipv4(kA, kB, 17, Bytes(8, 0), {.frag_offset = 8}))});  // orphan
  auto s = source({write("m.pcap", pcap_file(mix, false, false))});
  FlowPipeline pipe({});
  PacketBatch batch;
  while (s.next_batch(batch)) pipe.process(batch);
  pipe.flush();
  const auto& o = pipe.packet_stage().outcomes();
  uint64_t sum = s.stats().filtered;
  for (std::size_t i = 0; i < kOutcomeCount; ++i) sum += o[i];
  EXPECT_EQ(sum, s.stats().packets);
  EXPECT_EQ(o[size_t(Outcome::Ok)], 3u);
  EXPECT_EQ(o[size_t(Outcome::NonIp)], 1u);
  EXPECT_EQ(o[size_t(Outcome::TruncatedLink)], 1u);
  EXPECT_EQ(o[size_t(Outcome::FragmentWithoutFirst)], 1u);
  EXPECT_EQ(pipe.finished().size(), 2u);
}

// Packet time going back by more than the shortest timeout (files given out of time order)
// ends every open flow (time_reset) and restarts the clock: the row timeouts queued
// before it do not hold back those of the flows after it.
TEST_F(PcapSourceTest, TimeGoingBackEndsEveryFlowAndRestartsRowTimeouts) {
  auto dns = [](uint16_t sport) {
    return eth(0x0800, ipv4(kA, kB, 17, udp(sport, 53, Bytes(20, 7))));
  };
  const std::vector<Pkt> later = {{1000, 0, dns(1000)}, {1000, 500000, dns(1000)}};
  const std::vector<Pkt> earlier = {{10, 0, dns(2000)}, {12, 0, dns(2000)}, {13, 0, dns(3000)}};
  auto s = source({write("later.pcap", pcap_file(later, false, false)),
                   write("earlier.pcap", pcap_file(earlier, false, false))});
  FlowPipelineConfig cfg;
  cfg.table.select.packets = 5;
  FeatureSpec spec;
  spec.packets = 5;
  spec.bytes = 16;
  cfg.streaming = spec;
  cfg.copy_selected = false;
  cfg.row_timeout_ns = kNsPerSec;
  FlowPipeline pipe(cfg);
  std::map<uint16_t, FlowInfo> rows;  // by client port
  std::map<uint16_t, EndReason> ends;
  auto drain = [&] {
    FeatureRing& ring = *pipe.flow_stage().features();
    while (FeatureBatch* b = ring.take()) {
      for (uint32_t k = 0; k < b->size(); ++k) rows[b->info(k).tuple.sport] = b->info(k);
      ring.give_back(b);
    }
    for (const FlowRecord& r : pipe.finished()) ends[r.src_port] = r.end_reason;
  };
  PacketBatch batch;
  while (s.next_batch(batch)) {
    pipe.process(batch);
    drain();
  }
  pipe.flush();
  drain();
  ASSERT_EQ(ends.size(), 3u);
  EXPECT_EQ(ends[1000], EndReason::TimeReset);
  EXPECT_EQ(ends[2000], EndReason::EndOfInput);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1000].packets, 2u);
  EXPECT_EQ(rows[1000].timed_out, 0);
  EXPECT_EQ(rows[2000].timed_out, 1);  // its timeout came due at t = 13 s, after the reset
  EXPECT_EQ(rows[3000].timed_out, 0);
}

}  // namespace
}  // namespace etcpipe
