// Captures -> flows: every shared capture is read with balanced accounting, flow counts
// agree with nDPI's independent output, and the bundled samples match their golden files.
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <regex>
#include <sstream>

#include "capture/generator.hpp"
#include "capture/pcap_source.hpp"
#include "export/jsonl_writer.hpp"
#include "feature_rows.hpp"
#include "features/consumer_extractor.hpp"
#include "pipeline/run.hpp"

namespace etcpipe {
namespace {

namespace fs = std::filesystem;
const fs::path kShared = ETCPIPE_SHARED_DATA;
const fs::path kSamples = ETCPIPE_SAMPLES;
const fs::path kGolden = fs::path(__FILE__).parent_path().parent_path() / "golden";

class CollectingSink final : public FlowSink {
 public:
  std::vector<FlowRecord> records;
  void write(std::span<const FlowRecord> r) override {
    records.insert(records.end(), r.begin(), r.end());
  }
  void close() override {}
};

struct Result {
  RunStats stats;
  std::vector<FlowRecord> records;
  std::vector<std::string> selected;  // one line per selected packet: tuple, time, rank, bytes
  uint64_t open_failures = 0;
};

std::string describe(const SelectedBatch& b, uint32_t i) {
  const SelectedPacket& s = b.packet(i);
  const auto bytes = b.bytes(i);
  const auto& t = s.meta.tuple;
  uint64_t h = 1469598103934665603ULL;  // FNV-1a of the copied bytes
  for (uint8_t c : bytes) h = (h ^ c) * 1099511628211ULL;
  return fmt::format("{}:{}>{}:{} {} {} {} {} {} {:x}", fmt::join(t.src.b, "."), t.sport,
                     fmt::join(t.dst.b, "."), t.dport, t.proto, s.meta.ts_ns, s.rank, s.from_client,
                     s.copied, h);
}

Result run_source(PacketSource& source, const FlowPipelineConfig& cfg, unsigned workers) {
  CollectingSink sink;
  Result r;
  RunOptions opts;
  opts.workers = workers;
  opts.on_selected = [&r](const SelectedBatch& b) {
    for (uint32_t i = 0; i < b.size(); ++i) {
      if (!b.packet(i).end) r.selected.push_back(describe(b, i));
    }
  };
  r.stats = run_flows(source, cfg, sink, opts);
  std::sort(r.selected.begin(), r.selected.end());
  r.records = std::move(sink.records);
  return r;
}

Result run_captures(const std::vector<std::string>& files, const FlowPipelineConfig& cfg = {},
                    unsigned workers = 1) {
  PcapFileSource source(files, "", [](const std::string&) {});
  Result r = run_source(source, cfg, workers);
  r.open_failures = source.open_failures();
  return r;
}

Result run_capture(const fs::path& file, const FlowPipelineConfig& cfg = {}, unsigned workers = 1) {
  return run_captures({file.string()}, cfg, workers);
}

std::vector<fs::path> shared_captures() {
  std::vector<fs::path> files;
  const auto dir = kShared / "ndpi" / "pcap";
  if (!fs::is_directory(dir)) return files;
  for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

TEST(SharedCaptures, EveryCaptureIsReadWithBalancedAccounting) {
  const auto files = shared_captures();
  if (files.empty()) GTEST_SKIP() << "no shared captures at " << kShared;
  uint64_t packets = 0, flows = 0;
  for (const auto& f : files) {
    const Result r = run_capture(f);
    EXPECT_EQ(r.open_failures, 0u) << f;
    EXPECT_TRUE(r.stats.accounting_balanced()) << f << ": " << format_summary(r.stats);
    EXPECT_EQ(r.records.size(), r.stats.flows.created) << f;
    EXPECT_EQ(r.stats.flows.active, 0u) << f;
    // Each packet in a flow has one selection outcome; each selected one is copied or dropped.
    const auto& sel = r.stats.flows.selection;
    EXPECT_EQ(std::accumulate(sel.begin(), sel.end(), uint64_t{0}), r.stats.outcomes[0]) << f;
    EXPECT_EQ(sel[size_t(Selection::Selected)],
              r.stats.selected.copied + r.stats.selected.copy_dropped)
        << f;
    EXPECT_EQ(r.selected.size(), r.stats.selected.copied) << f;
    packets += r.stats.source.packets;
    flows += r.records.size();
  }
  std::cout << files.size() << " captures, " << packets << " packets, " << flows << " flows\n";
}

// Every packet of a source, as the stages see it: link type, time, lengths, and a hash of
// the bytes; then the source's counters and warnings.
std::vector<std::string> packets_of(const fs::path& file, bool in_place) {
  std::vector<std::string> out;
  PcapFileSource source(
      {file.string()}, "", [&out](const std::string& w) { out.push_back("warning " + w); },
      in_place);
  PacketBatch batch;
  while (source.next_batch(batch)) {
    for (uint32_t i = 0; i < batch.size(); ++i) {
      const PacketRef& p = batch.ref(i);
      uint64_t h = 1469598103934665603ULL;
      for (uint8_t c : batch.bytes(i)) h = (h ^ c) * 1099511628211ULL;
      out.push_back(fmt::format("{} {} {} {} {:x}", batch.dlt, p.ts_ns, p.caplen, p.wire_len, h));
    }
  }
  const SourceStats& s = source.stats();
  out.push_back(fmt::format("packets {} bytes {} errors {} open failures {}", s.packets, s.bytes,
                            s.read_errors, source.open_failures()));
  return out;
}

// The in-place reader gives what libpcap gives, packet for packet, on every shared capture
// (pcap and pcapng, many link types, truncated files among them).
TEST(SharedCaptures, InPlaceReaderMatchesLibpcap) {
  const auto files = shared_captures();
  if (files.empty()) GTEST_SKIP() << "no shared captures at " << kShared;
  for (const auto& f : files) {
    const auto mapped = packets_of(f, true);
    const auto libpcap = packets_of(f, false);
    ASSERT_EQ(mapped.size(), libpcap.size())
        << f << ": " << mapped.back() << " / " << libpcap.back();
    for (std::size_t i = 0; i < mapped.size(); ++i) {
      ASSERT_EQ(mapped[i], libpcap[i]) << f << " packet " << i;
    }
  }
}

std::vector<std::string> formatted(const std::vector<FlowRecord>& records) {
  std::vector<std::string> lines;
  for (const auto& rec : records) {
    fmt::memory_buffer buf;
    JsonlWriter::format(rec, buf);
    lines.emplace_back(buf.data(), buf.size());
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

// A run with W workers gave what one worker gave: the same records and selected packets.
void expect_same_results(const Result& many, const Result& one, unsigned w) {
  EXPECT_TRUE(many.stats.accounting_balanced()) << w << " workers";
  EXPECT_EQ(many.records.size(), one.records.size()) << w << " workers";
  EXPECT_EQ(formatted(many.records), formatted(one.records)) << w << " workers";
  EXPECT_EQ(many.selected, one.selected) << w << " workers";
}

// Results do not depend on the number of workers: the same records and selected packets,
// in another order.
TEST(SharedCaptures, SameFlowsWhateverTheNumberOfWorkers) {
  const auto files = shared_captures();
  if (files.empty()) GTEST_SKIP() << "no shared captures at " << kShared;
  for (const auto& f : files) {
    const Result one = run_capture(f);
    for (unsigned w : {2u, 3u}) {
      const Result many = run_capture(f, {}, w);
      ASSERT_EQ(many.stats.workers.size(), w);
      SCOPED_TRACE(f.string());
      expect_same_results(many, one, w);
      uint64_t dispatched = 0;
      for (const auto& ws : many.stats.workers) dispatched += ws.packets;
      EXPECT_EQ(dispatched, many.stats.outcomes[0]) << f;
      EXPECT_EQ(many.stats.flows.created, one.stats.flows.created) << f;
    }
  }
}

// All the captures as one input, in name order and then again: packet time goes back
// between files (by days, to the same second when a file comes twice). Every jump back
// by more than the shortest flow timeout ends every flow (end reason time-reset), at the
// same packet whatever W, so the records do not depend on W here either.
TEST(SharedCaptures, TimeGoingBackEndsEveryFlowWhateverTheNumberOfWorkers) {
  const auto files = shared_captures();
  if (files.empty()) GTEST_SKIP() << "no shared captures at " << kShared;
  std::vector<std::string> input;
  for (int round = 0; round < 2; ++round) {
    for (const auto& f : files) input.push_back(f.string());
  }
  const Result one = run_captures(input);
  const uint64_t resets = one.stats.flows.ended[size_t(EndReason::TimeReset)];
  EXPECT_GT(resets, 0u);
  EXPECT_TRUE(one.stats.accounting_balanced());
  for (unsigned w : {2u, 3u}) expect_same_results(run_captures(input, {}, w), one, w);
}

// Generated packets replayed from the start `rounds` times, as one input: packet time goes
// back at the start of each round, and rounds do not line up with batches.
class Rewinding final : public PacketSource {
 public:
  Rewinding(const GeneratorConfig& g, int rounds) : rounds_(rounds) {
    GeneratorSource gen(g);
    PacketBatch b;
    while (gen.next_batch(b)) {
      dlt_ = b.dlt;
      for (uint32_t i = 0; i < b.size(); ++i) {
        const auto bytes = b.bytes(i);
        packets_.push_back({b.ref(i).ts_ns, {bytes.begin(), bytes.end()}, b.ref(i).wire_len});
      }
    }
  }
  bool next_batch(PacketBatch& batch) override {
    batch.clear();
    batch.dlt = dlt_;
    while (!batch.full() && round_ < rounds_) {
      const Packet& p = packets_[next_];
      batch.push(p.ts_ns, p.bytes.data(), uint32_t(p.bytes.size()), p.wire_len);
      ++stats_.packets;
      stats_.bytes += p.wire_len;
      if (++next_ == packets_.size()) {
        next_ = 0;
        ++round_;
      }
    }
    return batch.size() != 0;
  }
  const SourceStats& stats() const override { return stats_; }

 private:
  struct Packet {
    uint64_t ts_ns;
    std::vector<uint8_t> bytes;
    uint32_t wire_len;
  };
  std::vector<Packet> packets_;
  int dlt_ = 1;
  int rounds_;
  int round_ = 0;
  std::size_t next_ = 0;
  SourceStats stats_;
};

// One flow, replayed: every batch goes to one worker, whose work items fill up and go before
// the end of the batch, and every round ends the flow in the middle of a batch. The
// records and the selected packets' bytes do not depend on W. (The reader once gave a batch
// back to the pool twice when such an item returned while it took another item for that
// worker: the batch was then filled twice at once, and selected copies held other
// packets' bytes.)
TEST(GeneratedTraffic, FullItemsAndTimeResetsLoseNoPacketBytes) {
  GeneratorConfig g;
  g.flows = 1;
  g.new_flows_per_sec = 0;
  g.packets = 1000;  // rounds not aligned with batches
  g.rate_pps = 50;   // 20 s of packet time: more than every timeout but the idle ones
  g.packet_sizes = {64, 600, 1500};
  FlowPipelineConfig cfg;
  cfg.table.select.packets = 255;  // most packets selected: their bytes are compared
  constexpr int kRounds = 300;
  Rewinding once(g, kRounds);
  const Result one = run_source(once, cfg, 1);
  EXPECT_EQ(one.stats.flows.ended[size_t(EndReason::TimeReset)], uint64_t{kRounds - 1});
  EXPECT_EQ(one.selected.size(), uint64_t{255} * kRounds);
  for (unsigned w : {2u, 3u}) {
    Rewinding again(g, kRounds);
    expect_same_results(run_source(again, cfg, w), one, w);
  }
}

// Feature rows of one capture by one extractor, canonical form, sorted.
struct Extracted {
  std::vector<std::string> rows;
  ExtractStats stats;
  uint64_t flows_with_selected = 0;  // flow records with at least one selected packet
  uint64_t selected = 0;
};

Extracted extract_capture(const fs::path& file, const FeatureSpec& spec, ExtractorKind kind,
                          unsigned workers) {
  constexpr uint32_t kRows = 4096;
  PcapFileSource source({file.string()}, "", [](const std::string&) {});
  FlowPipelineConfig cfg;
  cfg.select_snaplen = 2048;
  cfg.table.max_flows = 1 << 16;
  cfg.table.select.packets = spec.packets;
  cfg.feature_rows = kRows;
  test::KeepingSink rows;
  SinkOutput out(spec, rows);
  RunOptions opts;
  opts.workers = workers;
  if (kind == ExtractorKind::Streaming) {
    cfg.streaming = spec;
    opts.on_features = [&rows](const FeatureBatch& b) { rows.write(b); };
  }
  const std::unique_ptr<ConsumerExtractor> x = make_consumer_extractor(
      kind, spec, kRows, workers, per_worker_capacity(cfg.table.max_flows, workers), out);
  if (x) opts.on_selected = [&x](const SelectedBatch& b) { x->add(b); };
  CollectingSink records;
  const RunStats rs = run_flows(source, cfg, records, opts);
  if (x) x->finish();
  Extracted e;
  e.rows = rows.canonical();
  e.stats = x ? x->stats() : rs.features;
  for (const auto& r : records.records) e.flows_with_selected += r.selected > 0;
  e.selected = rs.flows.selection[size_t(Selection::Selected)];
  return e;
}

// All extractors give byte-identical rows (matrix, sequences, statistics) for every flow of
// every capture, with one worker or two; every selected packet lands in a row.
TEST(SharedCaptures, ExtractorsAgreeByteForByte) {
  const auto files = shared_captures();
  if (files.empty()) GTEST_SKIP() << "no shared captures at " << kShared;
  FeatureSpec yatc = FeatureSpec::preset("yatc");
  yatc.addresses = Anonymize::Random;
  uint64_t rows = 0;
  for (const FeatureSpec& spec : {FeatureSpec{}, yatc}) {
    for (const auto& f : files) {
      const Extracted ref = extract_capture(f, spec, ExtractorKind::Reference, 1);
      EXPECT_EQ(ref.stats.flows, ref.flows_with_selected) << f;
      EXPECT_EQ(ref.stats.packets, ref.selected) << f;
      EXPECT_EQ(ref.stats.rows_full + ref.stats.output_dropped + ref.stats.late, 0u) << f;
      EXPECT_EQ(ref.rows.size(), ref.stats.flows) << f;
      rows += ref.rows.size();
      for (auto kind : {ExtractorKind::Streaming, ExtractorKind::Batch}) {
        for (unsigned w : {1u, 2u}) {
          const Extracted other = extract_capture(f, spec, kind, w);
          EXPECT_TRUE(other.rows == ref.rows)
              << f << ": " << extractor_name(kind) << " with " << w << " workers differs";
          EXPECT_EQ(other.stats.packets, ref.stats.packets) << f;
        }
      }
    }
  }
  std::cout << rows << " rows compared\n";
}

// Over all shared captures the symmetric hash spreads packets about evenly.
TEST(SharedCaptures, WorkersGetFairSharesOfPackets) {
  const auto files = shared_captures();
  if (files.empty()) GTEST_SKIP() << "no shared captures at " << kShared;
  for (unsigned w : {2u, 4u}) {
    std::vector<uint64_t> per_worker(w);
    uint64_t total = 0;
    for (const auto& f : files) {
      const Result r = run_capture(f, {}, w);
      for (unsigned i = 0; i < w; ++i) per_worker[i] += r.stats.workers[i].packets;
      total += r.stats.outcomes[0];
    }
    for (unsigned i = 0; i < w; ++i) {
      const double share = double(per_worker[i]) / double(total);
      std::cout << "W=" << w << " worker " << i << ": " << share * 100 << "% of packets\n";
      EXPECT_NEAR(share, 1.0 / w, 0.25 / w) << "worker " << i;
    }
  }
}

// On generated traffic (many flows of like size) the shares are close to 1/W.
TEST(GeneratedTraffic, WorkersGetEvenSharesAndEveryPacketIsAccounted) {
  for (unsigned w : {2u, 4u}) {
    GeneratorConfig g;
    g.flows = 20000;
    g.new_flows_per_sec = 2000;
    g.packets = 400000;
    g.ipv6_share = 0.3;
    g.packet_sizes = {64, 600, 1500};
    GeneratorSource source(g);
    CollectingSink sink;
    RunOptions opts;
    opts.workers = w;
    const RunStats s = run_flows(source, {}, sink, opts);
    EXPECT_TRUE(s.accounting_balanced());
    EXPECT_EQ(s.outcomes[0], g.packets);
    EXPECT_EQ(sink.records.size(), s.flows.created);
    for (unsigned i = 0; i < w; ++i) {
      const double share = double(s.workers[i].packets) / double(g.packets);
      EXPECT_NEAR(share, 1.0 / w, 0.05 / w) << "W=" << w << " worker " << i;
    }
  }
}

// TCP and UDP flow lines of nDPI's result file (ndpiReader's regression output).
int ndpi_flow_count(const fs::path& out_file) {
  std::ifstream in(out_file);
  static const std::regex flow_line(R"(^\t\d+\t(TCP|UDP) )");
  int n = 0;
  for (std::string line; std::getline(in, line);) n += std::regex_search(line, flow_line);
  return n;
}

double agreement(const FlowPipelineConfig& cfg, std::vector<std::string>& differing) {
  int total = 0, equal = 0;
  for (const auto& f : shared_captures()) {
    const auto expected = kShared / "ndpi" / "result" / (f.filename().string() + ".out");
    if (!fs::exists(expected)) continue;
    const Result r = run_capture(f, cfg);
    const auto ours = std::count_if(r.records.begin(), r.records.end(), [](const FlowRecord& x) {
      return x.proto == ipproto::kTcp || x.proto == ipproto::kUdp;
    });
    const int theirs = ndpi_flow_count(expected);
    ++total;
    if (ours == theirs) {
      ++equal;
    } else {
      differing.push_back(f.filename().string() + " ndpi=" + std::to_string(theirs) +
                          " etcpipe=" + std::to_string(ours));
    }
  }
  return total ? double(equal) / total : 0;
}

// docs/NDPI_COMPARISON.md explains the differences. nDPI's reader never splits a flow on
// idle or active time, so the like-for-like comparison disables those timeouts.
TEST(SharedCaptures, FlowCountsAgreeWithNdpi) {
  if (shared_captures().empty()) GTEST_SKIP() << "no shared captures at " << kShared;
  FlowPipelineConfig cfg;
  cfg.table.timeouts.tcp_idle_ns = cfg.table.timeouts.udp_idle_ns = 0;
  cfg.table.timeouts.other_idle_ns = cfg.table.timeouts.active_ns = 0;
  std::vector<std::string> differing;
  const double like_for_like = agreement(cfg, differing);
  for (const auto& d : differing) std::cout << "  differs: " << d << '\n';
  std::vector<std::string> ignored;
  const double with_defaults = agreement({}, ignored);
  std::cout << "equal flow counts: " << like_for_like * 100 << "% with idle/active timeouts off, "
            << with_defaults * 100 << "% with default timeouts\n";
  EXPECT_GE(like_for_like, 0.95);
  EXPECT_GE(with_defaults, 0.85);
}

std::vector<std::string> sorted_lines(std::string text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  std::sort(lines.begin(), lines.end());
  return lines;
}

// Golden files: `etcpipe flows -q -r data/samples/NAME -o tests/golden/NAME.jsonl`.
// Set ETCPIPE_UPDATE_GOLDEN=1 to rewrite them after an intended change, and review the diff.
TEST(Samples, MatchGoldenFlowRecords) {
  ASSERT_TRUE(fs::is_directory(kSamples)) << kSamples;
  int checked = 0;
  for (const auto& e : fs::directory_iterator(kSamples)) {
    if (e.path().extension() != ".pcap" && e.path().extension() != ".pcapng") continue;
    const auto ours = formatted(run_capture(e.path()).records);
    const auto golden = kGolden / (e.path().filename().string() + ".jsonl");
    if (std::getenv("ETCPIPE_UPDATE_GOLDEN")) {
      std::ofstream out(golden);
      for (const auto& line : ours) out << line << '\n';
    }
    std::ifstream in(golden);
    ASSERT_TRUE(in) << "missing golden file " << golden;
    std::stringstream expected;
    expected << in.rdbuf();
    EXPECT_EQ(ours, sorted_lines(expected.str())) << e.path();
    ++checked;
  }
  EXPECT_GE(checked, 5);
}

}  // namespace
}  // namespace etcpipe
