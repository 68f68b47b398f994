// etcpipe extract: captures -> a labelled feature dataset (.npy arrays, flows.csv,
// meta.json) that Python loads with numpy alone. The options fill the session's
// ExtractConfig; run_extract_session runs it.
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "cli/input_options.hpp"
#include "cli/pipeline_options.hpp"
#include "session/extract_session.hpp"

namespace etcpipe::cli {
namespace {

struct ExtractOptions {
  ExtractConfig run;
  bool quiet = false;
  CLI::App* cmd = nullptr;
};

std::string bar(double fraction) {
  constexpr int kWidth = 30;
  const int done = std::clamp(int(fraction * kWidth), 0, kWidth);
  return "[" + std::string(std::size_t(done), '#') + std::string(std::size_t(kWidth - done), '.') +
         "]";
}

// The progress line, rewritten in place.
void show_progress(const ExtractProgress& p) {
  if (p.live) {
    std::cerr << '\r' << p.stats.source.packets << " packets, " << p.stats.source.kernel_drops
              << " dropped by the kernel, " << p.flows << " flows\x1b[K" << std::flush;
  } else {
    std::cerr << '\r'
              << bar((double(p.captures_done) + std::max(p.stats.progress, 0.0)) /
                     double(p.captures))
              << ' ' << p.captures_done << '/' << p.captures << " captures, " << p.flows
              << " flows\x1b[K" << std::flush;
  }
}

// Says what was done, returns the exit status.
int conclude(const ExtractOptions& o, const ExtractResult& t) {
  if (!o.quiet) {
    if (t.stats.source.kernel_drops != 0) {
      std::cerr << t.stats.source.kernel_drops << " packets dropped by the kernel\n";
    }
    const std::string_view kind = extractor_name(o.run.extractor);
    std::cerr << t.runs << (o.run.input.live.live() ? " live capture, " : " captures, ")
              << t.stats.source.packets << " packets, " << t.stats.flows.created << " flows in "
              << t.seconds << " s (" << kind << " extractor on " << t.device << ")\n"
              << t.flows << " flows written to " << o.run.output;
    if (t.labelled) std::cerr << ", " << t.unlabeled << " unlabeled left out";
    std::cerr << "; flows without a free row " << t.features.rows_full << ", rows dropped "
              << t.features.output_dropped << "\n";
    if (t.labelled) {
      std::cerr << "flows per label:\n";
      for (const auto& [label, n] : t.per_label) {
        std::cerr << "  " << label << std::string(label.size() < 24 ? 24 - label.size() : 1, ' ')
                  << n << '\n';
      }
    }
  }
  return exit_status(t.interrupted, t.unreadable, t.unbalanced == 0);
}

int run(ExtractOptions& o) {
  install_stop_handlers();
  ExtractConfig& c = o.run;
  return run_guarded(c.pipeline, [&] {
    c.snaplen_from_spec = o.cmd->count("--select-snaplen") == 0;
    const bool progress = !o.quiet && isatty(STDERR_FILENO);
    ExtractHooks hooks;
    hooks.warn = warner(progress);
    hooks.note = noter(o.quiet);
    if (progress) hooks.progress = show_progress;
    const ExtractResult t = run_extract_session(c, hooks);
    if (progress) std::cerr << "\r\x1b[K";
    return conclude(o, t);
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
  add_input_options(cmd, o.run.input, "BPF filter expression (tcpdump syntax)");
  cmd->add_option("-o,--output", o.run.output, "Dataset directory (created)")->required();
  cmd->add_flag("-q,--quiet", o.quiet, "Do not print the progress bar and the summary");
  cmd->add_option_function<std::string>(
         "--extractor", [&o](const std::string& kind) { o.run.extractor = parse_extractor(kind); },
         "reference (serial baseline), streaming (in the flow workers) or batch "
         "(sort + segmented scan on Thrust)")
      ->default_str(std::string(extractor_name(o.run.extractor)))
      ->check(CLI::IsMember({"reference", "streaming", "batch"}));
  cmd->add_option("--feature-rows", o.run.feature_rows,
                  "Flows whose rows are being filled at once, per extractor (N x L bytes each)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1u << 26));

  auto* spec = cmd->add_option_group(
      "Features", "What each flow becomes (options override --spec or --preset)");
  FeatureSpecChoice& f = o.run.spec;
  auto* spec_file = spec->add_option("--spec", f.file, "Feature spec JSON file");
  spec->add_option("--preset", f.preset,
                   "etcpipe (10 x 1000), yatc (5 x (80 + 240)), nepco (5 x 128)")
      ->check(CLI::IsMember({"etcpipe", "yatc", "nepco"}))
      ->excludes(spec_file);
  spec->add_option("--packets", f.packets, "N: first N selected packets of each flow")
      ->check(CLI::Range(1u, 255u));
  spec->add_option("--bytes", f.bytes, "L: bytes per packet in the matrix")
      ->check(CLI::Range(1u, 65535u));
  spec->add_option("--start", f.start, "Where a packet's bytes start: payload, l4 or l3")
      ->check(CLI::IsMember({"payload", "l4", "l3"}));
  spec->add_option("--header-bytes", f.header_bytes,
                   "With --start l3/l4: header bytes first (padded), then payload (YaTC: 80)");
  spec->add_option("--anonymize", f.anonymize,
                   "Addresses and ports in headers: keep, zero or random (per flow)")
      ->check(CLI::IsMember({"keep", "zero", "random"}));
  spec->add_flag("--keep-tcp-fields", f.keep_tcp_fields,
                 "Keep TCP sequence/acknowledgment numbers and timestamps (zeroed by default)");
  spec->add_option("--pad", f.pad, "Value of the bytes past a packet's end");
  spec->add_option("--seed", f.seed, "Seed of the random per-flow addresses and ports");
  spec->add_flag("--no-matrix", f.no_matrix, "Do not produce the byte matrix");
  spec->add_flag("--no-sequences", f.no_sequences, "Do not produce the sequences");
  spec->add_flag("--no-stats", f.no_stats, "Do not produce the flow statistics");

  auto* labels = cmd->add_option_group("Labels", "Where each flow's class comes from");
  auto* csv =
      labels->add_option("--labels-csv", o.run.labels.csv,
                         "CSV with header capture,label or src,sport,dst,dport,proto,label");
  auto* dirs = labels->add_flag("--labels-from-dirs", o.run.labels.dirs,
                                "Class = name of the directory holding the capture");
  auto* ndpi = labels->add_option("--labels-ndpi", o.run.labels.ndpi,
                                  "Directory of nDPI results (NAME.out for capture NAME): the "
                                  "application part of the detected protocol");
  csv->excludes(dirs)->excludes(ndpi);
  dirs->excludes(ndpi);
  labels
      ->add_flag("--encrypted-only", o.run.labels.ndpi_options.encrypted_only,
                 "With --labels-ndpi: only flows nDPI marks [Encrypted]")
      ->needs(ndpi);
  labels
      ->add_option("--min-packets-each-way", o.run.labels.ndpi_options.min_packets_each_way,
                   "With --labels-ndpi: only flows with at least this many packets each way")
      ->needs(ndpi);
  labels->footer("Flows without a label are left out (and counted) when a label source is given.");

  add_pipeline_options(cmd, o.run.pipeline, o.run.input, false);
  return [opts] { return run(*opts); };
}

}  // namespace etcpipe::cli
