// etcpipe extract: captures -> a labelled feature dataset (.npy arrays, flows.csv,
// meta.json) that Python loads with numpy alone.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <new>
#include <nlohmann/json.hpp>

#include "capture/pcap_source.hpp"
#include "cli/commands.hpp"
#include "cli/live_options.hpp"
#include "cli/pipeline_options.hpp"
#include "dataset/dataset_writer.hpp"
#include "features/consumer_extractor.hpp"
#include "pipeline/run.hpp"

namespace etcpipe::cli {
namespace {

struct ExtractOptions {
  std::vector<std::string> inputs;
  LiveOptions live;
  std::vector<std::string> filter_words;
  std::string output;
  std::string spec_file;
  std::string preset;
  FeatureSpec spec;  // option values, applied over the preset or spec file when given
  std::string start = "payload";
  std::string anonymize = "zero";
  bool keep_tcp_fields = false;
  bool no_matrix = false, no_sequences = false, no_stats = false;
  std::string extractor = "streaming";
  uint32_t feature_rows = 16384;
  std::string labels_csv;
  bool labels_dirs = false;
  std::string labels_ndpi;
  NdpiLabelOptions ndpi;
  bool quiet = false;
  PipelineOptions pipeline;
  CLI::App* cmd = nullptr;
};

bool given(const ExtractOptions& o, const char* name) {
  return o.cmd->count(name) > 0;
}

FeatureSpec make_spec(const ExtractOptions& o) {
  FeatureSpec s = !o.spec_file.empty() ? FeatureSpec::load(o.spec_file)
                  : !o.preset.empty()  ? FeatureSpec::preset(o.preset)
                                       : FeatureSpec{};
  if (given(o, "--packets")) s.packets = o.spec.packets;
  if (given(o, "--bytes")) s.bytes = o.spec.bytes;
  if (given(o, "--start")) s.start = parse_byte_start(o.start);
  if (given(o, "--header-bytes")) s.header_bytes = o.spec.header_bytes;
  if (given(o, "--anonymize")) s.addresses = parse_anonymize(o.anonymize);
  if (o.keep_tcp_fields) s.zero_tcp_fields = false;
  if (given(o, "--pad")) s.pad = o.spec.pad;
  if (given(o, "--seed")) s.seed = o.spec.seed;
  if (o.no_matrix) s.matrix = false;
  if (o.no_sequences) s.sequences = false;
  if (o.no_stats) s.statistics = false;
  s.validate();
  return s;
}

std::unique_ptr<Labeler> make_labeler(const ExtractOptions& o) {
  if (!o.labels_csv.empty()) return csv_labels(o.labels_csv);
  if (o.labels_dirs) return directory_labels();
  if (!o.labels_ndpi.empty()) return ndpi_labels(o.labels_ndpi, o.ndpi);
  return nullptr;
}

std::string bar(double fraction) {
  constexpr int kWidth = 30;
  const int done = std::clamp(int(fraction * kWidth), 0, kWidth);
  return "[" + std::string(std::size_t(done), '#') + std::string(std::size_t(kWidth - done), '.') +
         "]";
}

// The pipeline for a dataset: N from the spec, the library's flow capacity (a dataset, not
// a probe: not a quarter of the memory), streaming extraction in the workers if chosen.
FlowPipelineConfig extract_config(ExtractOptions& o, const FeatureSpec& spec, ExtractorKind kind) {
  if (!given(o, "--max-flows")) o.pipeline.max_flows = FlowTableConfig{}.max_flows;
  if (!given(o, "--select-snaplen")) o.pipeline.select_snaplen = snaplen_for(spec);
  o.pipeline.select_packets = spec.packets;
  FlowPipelineConfig cfg = pipeline_config(o.pipeline);
  cfg.feature_rows = o.feature_rows;
  if (kind == ExtractorKind::Streaming) cfg.streaming = spec;
  return cfg;
}

// The runs of an extraction (one per capture file, or one live) added up.
struct Totals {
  RunStats stats;
  uint64_t unbalanced = 0;
  bool interrupted = false;  // by SIGINT/SIGTERM: the dataset holds what was read
  std::size_t runs = 0;
  uint64_t unreadable = 0;  // inputs not opened, ended by a read error, or left out

  void add(const RunStats& s) {
    unbalanced += !s.accounting_balanced();
    interrupted |= s.interrupted;
    stats.source.packets += s.source.packets;
    stats.source.kernel_drops += s.source.kernel_drops;
    stats.flows.created += s.flows.created;
    stats.selected.copied += s.selected.copied;
    stats.selected.copy_dropped += s.selected.copy_dropped;
    stats.features.add(s.features);
    ++runs;
  }
};

// Closes the dataset with its metadata, says what was done, returns the exit status.
int conclude(const ExtractOptions& o, ExtractorKind kind, const ConsumerExtractor* extractor,
             DatasetWriter& dataset, bool labelled, const Totals& t, double seconds) {
  const ExtractStats xs = extractor ? extractor->stats() : t.stats.features;
  const std::string_view where = extractor ? extractor->device() : "cpu";
  nlohmann::json extra = {{"extractor", extractor_name(kind)},
                          {"extractor_device", where},
                          {"captures", t.runs},
                          {"packets", t.stats.source.packets},
                          {"kernel_drops", t.stats.source.kernel_drops},
                          {"flows_tracked", t.stats.flows.created},
                          {"rows_full", xs.rows_full},
                          {"rows_dropped", xs.output_dropped},
                          {"copies_dropped", t.stats.selected.copy_dropped}};
  dataset.close(extra);
  if (!o.quiet) {
    if (t.stats.source.kernel_drops != 0) {
      std::cerr << t.stats.source.kernel_drops << " packets dropped by the kernel\n";
    }
    std::cerr << t.runs << (o.live.live() ? " live capture, " : " captures, ")
              << t.stats.source.packets << " packets, " << t.stats.flows.created << " flows in "
              << seconds << " s (" << extractor_name(kind) << " extractor on " << where << ")\n"
              << dataset.flows() << " flows written to " << o.output;
    if (labelled) std::cerr << ", " << dataset.unlabeled() << " unlabeled left out";
    std::cerr << "; flows without a free row " << xs.rows_full << ", rows dropped "
              << xs.output_dropped << "\n";
    if (labelled) {
      std::cerr << "flows per label:\n";
      for (const auto& [label, n] : dataset.per_label()) {
        std::cerr << "  " << label << std::string(label.size() < 24 ? 24 - label.size() : 1, ' ')
                  << n << '\n';
      }
    }
  }
  if (t.interrupted) return interrupted_status();
  if (t.unreadable != 0) {
    std::cerr << "etcpipe: " << t.unreadable << " input(s) could not be read\n";
    return 1;
  }
  return t.unbalanced == 0 ? 0 : 3;
}

int run(ExtractOptions& o) {
  install_stop_handlers();
  return run_guarded(o.pipeline, [&] {
    if (o.inputs.empty() && !o.live.live()) {
      throw std::runtime_error("nothing to read: give captures (-r FILE) or interfaces (-i IFACE)");
    }
    const FeatureSpec spec = make_spec(o);
    const ExtractorKind kind = parse_extractor(o.extractor);
    const FlowPipelineConfig cfg = extract_config(o, spec, kind);
    unsigned workers = o.pipeline.workers;
    const bool progress = !o.quiet && isatty(STDERR_FILENO);
    const Warn warn = warner(progress);
    Totals t;
    if (o.live.live() && (o.labels_dirs || !o.labels_ndpi.empty())) {
      throw std::runtime_error(
          "--labels-from-dirs and --labels-ndpi label captures: with -i, give --labels-csv "
          "with 5-tuples");
    }
    LiveInput live;  // one source per worker
    std::vector<std::string> files;
    if (o.live.live()) {
      live = open_live(o.live, join(o.filter_words), workers, given(o, "--workers"), o.quiet);
      workers = static_cast<unsigned>(live.queues.size());  // fewer where a device has fewer queues
    } else {
      files = expand_capture_paths(o.inputs, [&](const std::string& msg) {
        ++t.unreadable;
        warn(msg);
      });
      if (files.empty()) throw std::runtime_error("no capture files found");
    }
    auto labeler = make_labeler(o);
    DatasetWriter dataset(o.output, spec, labeler.get());
    SinkOutput out(spec, dataset);
    // The consumer-side extractor, if any: selected batches in, rows to the dataset.
    const std::unique_ptr<ConsumerExtractor> extractor =
        make_consumer_extractor(kind, spec, o.feature_rows, workers,
                                per_worker_capacity(cfg.table.max_flows, workers), out);

    const auto start = std::chrono::steady_clock::now();
    NullSink records;
    RunOptions ro;
    ro.workers = workers;
    if (extractor) {
      ro.on_selected = [&extractor](const SelectedBatch& b) { extractor->add(b); };
    }
    ro.on_features = [&](const FeatureBatch& b) { dataset.write(b); };
    auto account = [&](const RunStats& s) {
      if (extractor) extractor->finish();
      t.add(s);
    };
    if (o.live.live()) {  // one run over the interfaces, until a signal, --duration or -c
      dataset.set_capture("live:" + join(o.live.interfaces));
      ro.lossless = false;  // the link does not wait: dropped copies and rows are counted
      if (progress) {
        ro.on_tick = [&](const RunStats& s) {
          std::cerr << '\r' << s.source.packets << " packets, " << s.source.kernel_drops
                    << " dropped by the kernel, " << dataset.flows() << " flows\x1b[K"
                    << std::flush;
        };
      }
      account(run_flows(live.queues, cfg, records, ro));
    }
    for (const std::string& file : files) {
      if (stop_flag().load()) {
        t.interrupted = true;
        break;
      }
      PcapFileSource source({file}, join(o.filter_words), warn);
      dataset.set_capture(file);
      ro.stop = &stop_flag();
      if (progress) {
        ro.on_tick = [&](const RunStats& s) {
          std::cerr << '\r'
                    << bar((double(t.runs) + std::max(s.progress, 0.0)) / double(files.size()))
                    << ' ' << t.runs << '/' << files.size() << " captures, " << dataset.flows()
                    << " flows\x1b[K" << std::flush;
        };
      }
      const RunStats s = run_flows(source, cfg, records, ro);
      t.unreadable += source.open_failures() + s.source.read_errors;
      account(s);
      if (ro.on_tick) ro.on_tick(s);
    }
    if (progress) std::cerr << "\r\x1b[K";
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return conclude(o, kind, extractor.get(), dataset, labeler != nullptr, t, seconds);
  });
}

}  // namespace

Runner add_extract_command(CLI::App& app) {
  auto opts = std::make_shared<ExtractOptions>();
  ExtractOptions& o = *opts;
  CLI::App* cmd = app.add_subcommand(
      "extract",
      "Turn captures into a labelled feature dataset (.npy arrays, flows.csv, meta.json)");
  o.cmd = cmd;
  cmd->footer(
      "Usage: etcpipe extract -r CAPTURES... -o DIR [spec options] [labels] [BPF expression]\n"
      "       etcpipe extract -i IFACE... -o DIR [spec options] [--labels-csv F] [BPF "
      "expression]\n\n" +
      kLiveHelp +
      "\n"
      "Writes DIR/matrix.npy [F,N,L] uint8, sizes/iats/flags/payloads.npy [F,N],\n"
      "stats.npy [F,39] float32, labels.npy [F] int32, flows.csv, meta.json, spec.json.\n\n"
      "Examples:\n"
      "  etcpipe extract -r captures/ -o ds --preset yatc --labels-from-dirs\n"
      "  etcpipe extract -r pcap/ -o ds --labels-ndpi result/ --encrypted-only "
      "--min-packets-each-way 2\n"
      "  etcpipe extract -r a.pcap -o ds --packets 5 --bytes 128 --labels-csv labels.csv tcp\n" +
      kExitStatusHelp);
  auto* read = cmd->add_option("-r,--read", o.inputs,
                               "Capture file (pcap or pcapng) or directory of captures; "
                               "repeatable")
                   ->allow_extra_args(false);
  add_live_options(cmd, o.live, read);
  cmd->add_option("filter", o.filter_words, "BPF filter expression (tcpdump syntax)");
  cmd->add_option("-o,--output", o.output, "Dataset directory (created)")->required();
  cmd->add_flag("-q,--quiet", o.quiet, "Do not print the progress bar and the summary");
  cmd->add_option("--extractor", o.extractor,
                  "reference (serial baseline), streaming (in the flow workers) or batch "
                  "(sort + segmented scan on Thrust)")
      ->capture_default_str()
      ->check(CLI::IsMember({"reference", "streaming", "batch"}));
  cmd->add_option("--feature-rows", o.feature_rows,
                  "Flows whose rows are being filled at once, per extractor (N x L bytes each)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1u << 26));

  auto* spec = cmd->add_option_group(
      "Features", "What each flow becomes (options override --spec or --preset)");
  auto* spec_file = spec->add_option("--spec", o.spec_file, "Feature spec JSON file");
  spec->add_option("--preset", o.preset,
                   "etcpipe (10 x 1000), yatc (5 x (80 + 240)), nepco (5 x 128)")
      ->check(CLI::IsMember({"etcpipe", "yatc", "nepco"}))
      ->excludes(spec_file);
  spec->add_option("--packets", o.spec.packets, "N: first N selected packets of each flow")
      ->check(CLI::Range(1u, 255u));
  spec->add_option("--bytes", o.spec.bytes, "L: bytes per packet in the matrix")
      ->check(CLI::Range(1u, 65535u));
  spec->add_option("--start", o.start, "Where a packet's bytes start: payload, l4 or l3")
      ->check(CLI::IsMember({"payload", "l4", "l3"}));
  spec->add_option("--header-bytes", o.spec.header_bytes,
                   "With --start l3/l4: header bytes first (padded), then payload (YaTC: 80)");
  spec->add_option("--anonymize", o.anonymize,
                   "Addresses and ports in headers: keep, zero or random (per flow)")
      ->check(CLI::IsMember({"keep", "zero", "random"}));
  spec->add_flag("--keep-tcp-fields", o.keep_tcp_fields,
                 "Keep TCP sequence/acknowledgment numbers and timestamps (zeroed by default)");
  spec->add_option("--pad", o.spec.pad, "Value of the bytes past a packet's end");
  spec->add_option("--seed", o.spec.seed, "Seed of the random per-flow addresses and ports");
  spec->add_flag("--no-matrix", o.no_matrix, "Do not produce the byte matrix");
  spec->add_flag("--no-sequences", o.no_sequences, "Do not produce the sequences");
  spec->add_flag("--no-stats", o.no_stats, "Do not produce the flow statistics");

  auto* labels = cmd->add_option_group("Labels", "Where each flow's class comes from");
  auto* csv =
      labels->add_option("--labels-csv", o.labels_csv,
                         "CSV with header capture,label or src,sport,dst,dport,proto,label");
  auto* dirs = labels->add_flag("--labels-from-dirs", o.labels_dirs,
                                "Class = name of the directory holding the capture");
  auto* ndpi = labels->add_option("--labels-ndpi", o.labels_ndpi,
                                  "Directory of nDPI results (NAME.out for capture NAME): the "
                                  "application part of the detected protocol");
  csv->excludes(dirs)->excludes(ndpi);
  dirs->excludes(ndpi);
  labels
      ->add_flag("--encrypted-only", o.ndpi.encrypted_only,
                 "With --labels-ndpi: only flows nDPI marks [Encrypted]")
      ->needs(ndpi);
  labels
      ->add_option("--min-packets-each-way", o.ndpi.min_packets_each_way,
                   "With --labels-ndpi: only flows with at least this many packets each way")
      ->needs(ndpi);
  labels->footer("Flows without a label are left out (and counted) when a label source is given.");

  add_pipeline_options(cmd, o.pipeline, false);
  return [opts] { return run(*opts); };
}

}  // namespace etcpipe::cli
