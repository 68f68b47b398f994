// etcpipe flows: read captures, track bidirectional flows, write one record per flow.
// etcpipe classify: the same, with a model's verdict (label, confidence, latency) in each
// record: features extracted in the workers, batched inference, verdicts joined to records.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <new>
#include <optional>

#include "capture/pcap_source.hpp"
#include "cli/commands.hpp"
#include "cli/inference_options.hpp"
#include "cli/live_options.hpp"
#include "cli/pipeline_options.hpp"
#include "export/async_sink.hpp"
#include "export/fanout_sink.hpp"
#include "export/outputs.hpp"
#include "monitor/http_server.hpp"
#include "monitor/web_view.hpp"
#include "pipeline/run.hpp"
#include "pipeline/selected_pcap.hpp"

namespace etcpipe::cli {
namespace {

struct FlowsOptions {
  std::vector<std::string> inputs;
  LiveOptions live;
  std::vector<std::string> filter_words;
  std::vector<std::string> outputs;  // KIND:TARGET, or a file for JSON Lines
  std::string stats_json;
  bool quiet = false;
  double stats_interval = 0;
  std::string metrics;  // ADDR:PORT
  std::string web;      // ADDR:PORT
  PipelineOptions pipeline;
  bool classify = false;
  ClassificationConfig inference;
  struct {
    std::vector<std::string> rules;  // ACTION:LABEL[@MINCONF]
    std::string file;
    bool dry_run = false;
  } enforce;
  CLI::App* cmd = nullptr;
};

// Appends one line to a statistics file (created anew by the run, see run()).
void append_line(const std::string& path, const std::string& line) {
  std::ofstream f(path, std::ios::app);
  f << line << '\n';
  if (!f) throw std::runtime_error(path + ": cannot write statistics");
}

// What a run reads: capture files, or one source per worker on interfaces.
struct Inputs {
  std::unique_ptr<PcapFileSource> file;
  LiveInput live;        // one source per worker, and XDP where it runs
  uint64_t skipped = 0;  // directory entries that could not be read
};

// `verdicts_in_xdp`, `prepare_xdp`: as open_live's.
Inputs open_inputs(const FlowsOptions& o, bool verdicts_in_xdp, const Warn& warn,
                   const std::function<void(XdpProgram&)>& prepare_xdp = {}) {
  Inputs in;
  if (o.live.live()) {
    in.live = open_live(o.live, join(o.filter_words), o.pipeline.workers,
                        o.cmd->count("--workers") > 0, o.quiet, verdicts_in_xdp, prepare_xdp);
    return in;
  }
  std::vector<std::string> files = expand_capture_paths(o.inputs, [&](const std::string& msg) {
    ++in.skipped;
    warn(msg);
  });
  if (files.empty()) throw std::runtime_error("no capture files found in " + join(o.inputs));
  // Opening an output truncates it: one that is an input would be lost before it is read.
  auto check_not_an_input = [&files](const std::string& what, const std::string& target) {
    std::error_code ec;
    if (target == "-" || !std::filesystem::exists(target, ec)) return;
    for (const std::string& input : files) {
      if (std::filesystem::equivalent(target, input, ec)) {
        throw std::runtime_error(what + " " + target + " is an input (" + input +
                                 "): refusing to overwrite it");
      }
    }
  };
  if (!o.stats_json.empty()) check_not_an_input("--stats-json", o.stats_json);
  for (const std::string& spec : o.outputs) {
    const OutputSpec out = parse_output(spec);
    if (!out.network()) check_not_an_input("--output", out.target);
  }
  in.file = std::make_unique<PcapFileSource>(std::move(files), join(o.filter_words), warn);
  return in;
}

// Each run starts the statistics file anew; one that cannot be written is said now, not
// after the run.
void start_stats_file(const std::string& path) {
  if (path.empty() || path == "/dev/stdout" || path == "/dev/stderr") return;
  errno = 0;
  std::ofstream f(path, std::ios::trunc);
  if (!f) {
    throw std::runtime_error("--stats-json " + path +
                             ": cannot write: " + std::strerror(errno != 0 ? errno : EACCES));
  }
}

// Where the run's records and selected packets go, and who watches.
struct Outputs {
  std::unique_ptr<WebView> web;  // before the sinks: they hand it their records
  std::unique_ptr<FanoutSink> sinks = std::make_unique<FanoutSink>();
  std::unique_ptr<SelectedPcapWriter> pcap;
};

Outputs open_outputs(const FlowsOptions& o, const FlowPipelineConfig& cfg) {
  Outputs out;
  if (!o.web.empty()) {
    out.web =
        std::make_unique<WebView>(o.web, o.classify ? "classify" : "flows",
                                  join(o.live.live() ? o.live.interfaces : o.inputs), o.classify);
    out.sinks->add(out.web->tap());
  }
  for (const std::string& spec : o.outputs.empty() ? std::vector<std::string>{"-"} : o.outputs) {
    const OutputSpec parsed = parse_output(spec);
    // pcap: (once, with a target) is the pipeline's; anything else, a second or empty
    // pcap: included, is export's to open or refuse.
    if (parsed.kind == "pcap" && !out.pcap && !parsed.target.empty()) {
      out.pcap = std::make_unique<SelectedPcapWriter>(parsed.target, cfg.select_snaplen);
      continue;
    }
    out.sinks->add(open_output(spec, o.classify, command_line()));
  }
  return out;
}

// What the run says at its end (summary, outputs, statistics file), and its exit status.
int conclude(const FlowsOptions& o, const RunStats& stats, const Inputs& in,
             const Classification* classification, const AsyncSink& writer,
             const SelectedPcapWriter* pcap, const std::string& pcap_error) {
  if (!o.quiet) std::cerr << format_summary(stats);
  if (classification && !o.quiet) std::cerr << classification->summary();
  std::vector<FlowSink::Report> reports;  // the outputs that talk to servers
  writer.report(reports);
  for (const FlowSink::Report& r : reports) {
    if (!o.quiet || r.loss) std::cerr << r.line << '\n';
  }
  if (pcap && !o.quiet && pcap_error.empty()) {
    std::cerr << "pcap: " << pcap->written() << " selected packets written";
    if (pcap->other_link_type() != 0) {
      std::cerr << ", " << pcap->other_link_type() << " of another link type left out";
    }
    std::cerr << '\n';
  }
  if (!o.stats_json.empty()) {
    std::string totals = format_stats_json(stats);
    if (classification) {
      nlohmann::json j = nlohmann::json::parse(totals);
      j["classification"] = classification->summary_json();
      totals = j.dump();
    }
    append_line(o.stats_json, totals);
  }
  if (writer.dropped() != 0) {
    std::cerr << "etcpipe: " << writer.dropped()
              << " records dropped: the run was ended while an output was behind\n";
  }
  if (!pcap_error.empty()) {
    std::cerr << "etcpipe: " << pcap_error << '\n';
    return 2;
  }
  // Stopped by a signal before the end of the input: 128 + the signal, as shells report.
  if (stats.interrupted) return interrupted_status();
  // Inputs not opened, ended by a read error (truncated, corrupt) or left out of a
  // directory: the others were read, the run is not a success.
  const uint64_t unreadable =
      (in.file ? in.file->open_failures() : 0) + stats.source.read_errors + in.skipped;
  if (unreadable != 0) {
    std::cerr << "etcpipe: " << unreadable << " input(s) could not be read\n";
    return 1;
  }
  return stats.accounting_balanced() ? 0 : 3;
}

// The --enforce rules and --enforce-file's, in order; none: no enforcement.
std::optional<EnforcePolicy> enforce_policy(const FlowsOptions& o) {
  if (o.enforce.rules.empty() && o.enforce.file.empty()) {
    if (o.enforce.dry_run) {
      throw std::runtime_error("--enforce-dry-run: give the rules (--enforce, --enforce-file)");
    }
    return std::nullopt;
  }
  if (!o.enforce.dry_run && !o.live.live()) {
    throw std::runtime_error(
        "--enforce acts on live traffic (-i); with -r, --enforce-dry-run says what it would do");
  }
  EnforcePolicy policy;
  for (const std::string& rule : o.enforce.rules) {
    try {
      policy.add(EnforcePolicy::parse_rule(rule));
    } catch (const std::invalid_argument& e) {
      throw std::runtime_error(std::string("--enforce ") + e.what());
    }
  }
  if (!o.enforce.file.empty()) policy.add_file(o.enforce.file);
  return policy;
}

int run(FlowsOptions& o) {
  install_stop_handlers();
  return run_guarded(o.pipeline, [&] {
    if (o.inputs.empty() && !o.live.live()) {
      throw std::runtime_error("nothing to read: give captures (-r FILE) or interfaces (-i IFACE)");
    }
    std::optional<EnforcePolicy> policy = enforce_policy(o);
    const bool in_kernel = o.inference.in_kernel;
    for (const char* opt : {"--in-kernel-min-confidence", "--cascade-model"}) {
      if (!in_kernel && o.classify && o.cmd->count(opt) > 0) {
        throw std::runtime_error(std::string(opt) + " goes with --in-kernel");
      }
    }
    if (in_kernel && !o.live.live()) {
      throw std::runtime_error("--in-kernel classifies in XDP, on live traffic (-i)");
    }
    if (in_kernel && o.enforce.dry_run) {
      throw std::runtime_error(
          "--in-kernel acts in the kernel: --enforce-dry-run cannot go with it");
    }
    const bool enforce = policy && !o.enforce.dry_run;
    if (enforce && o.cmd->count("--max-delay-ms") == 0) {
      o.inference.infer.max_delay_ms = ClassifierConfig::kEnforcingMaxDelayMs;
    }
    std::optional<Classification> classification;
    if (o.classify) {
      classification.emplace(o.inference);
      if (o.cmd->count("--select-snaplen") == 0) {
        o.pipeline.select_snaplen = snaplen_for(classification->model().spec);
      }
    }
    if (policy) policy->check_labels(classification->model().classes);  // before capture starts
    FlowPipelineConfig cfg = pipeline_config(o.pipeline);
    if (classification) classification->configure(cfg);
    const bool progress = !o.quiet && isatty(STDERR_FILENO);
    const Warn warn = warner(progress);
    // The kernel's model goes into the XDP program before it is attached anywhere.
    std::shared_ptr<const KernelSetup> kernel;
    if (in_kernel) {
      kernel = KernelSetup::load(o.inference.model, o.inference.in_kernel_min_confidence,
                                 policy ? *policy : EnforcePolicy{});
    }
    Inputs in = open_inputs(o, enforce || in_kernel, warn, [&kernel](XdpProgram& xdp) {
      if (kernel) kernel->install(xdp);
    });
    start_stats_file(o.stats_json);
    Outputs out = open_outputs(o, cfg);
    RunOptions ro;
    if (out.pcap) {
      ro.on_selected = [&out](const SelectedBatch& b) { out.pcap->write(b); };
    }
    ro.workers = o.pipeline.workers;
    if (o.live.live()) {
      ro.lossless = false;  // the link does not wait: copies and rows that find no room are counted
    } else {
      ro.stop = &stop_flag();
    }
    // What happens about once a second (every --stats-interval seconds if given).
    std::vector<std::function<void(const RunStats&)>> ticks;
    if (o.stats_interval > 0) {  // one line per interval
      ro.tick_seconds = o.stats_interval;
      ticks.push_back([&o](const RunStats& s) {
        std::cerr << "etcpipe: " << format_progress(s) << '\n';
        if (!o.stats_json.empty()) append_line(o.stats_json, format_stats_json(s));
      });
    } else if (progress) {  // a line rewritten in place
      ticks.push_back([](const RunStats& s) {
        std::cerr << '\r' << format_progress(s) << "\x1b[K" << std::flush;
      });
    }
    // Enforcement's counters for --metrics and --web (empty: no enforcement).
    auto enforcement_metrics = [&classification] {
      const Enforcer* e = classification ? classification->enforcer() : nullptr;
      return e ? e->metrics() : std::string();
    };
    auto enforcement_json = [&classification] {
      const Enforcer* e = classification ? classification->enforcer() : nullptr;
      return e ? e->summary_json().dump() : std::string();
    };
    std::unique_ptr<MetricsServer> metrics;
    if (!o.metrics.empty()) {
      metrics = std::make_unique<MetricsServer>(o.metrics);
      ticks.push_back([&](const RunStats& s) { metrics->update(s, enforcement_metrics()); });
    }
    if (out.web)
      ticks.push_back([&](const RunStats& s) { out.web->update(s, enforcement_json()); });
    // The sinks format and write in a thread of their own; reading from files, the reader
    // waits for them when they fall behind rather than lose records.
    AsyncSink writer(std::move(out.sinks), true);
    writer.set_give_up(&give_up_flag());  // a second signal: do not wait for a blocked output
    FlowSink* records = &writer;
    if (classification) {
      if (policy) {
        auto log = [&o](const std::string& msg) {
          if (!o.quiet) std::cerr << "etcpipe: " + msg + '\n';
        };
        classification->enforce(std::move(*policy), enforce ? in.live.xdp : nullptr, log);
      }
      if (kernel) classification->classify_in_kernel(kernel, in.live.xdp);
      records = &classification->attach(ro, writer, cfg);
      ticks.push_back([&classification](const RunStats&) { classification->poll(); });
    }
    if (!ticks.empty()) {
      ro.on_tick = [&ticks](const RunStats& s) {
        for (const auto& tick : ticks) tick(s);
      };
    }
    const RunStats stats = o.live.live() ? run_flows(in.live.queues, cfg, *records, ro)
                                         : run_flows(*in.file, cfg, *records, ro);
    if (metrics) metrics->update(stats, enforcement_metrics());
    if (out.web) out.web->finish(stats, enforcement_json());
    std::string pcap_error;  // reported after the summary: the run exits 2
    if (out.pcap) {
      try {
        out.pcap->close();
      } catch (const std::exception& e) {
        pcap_error = e.what();
      }
    }
    if (progress) std::cerr << "\r\x1b[K";
    return conclude(o, stats, in, classification ? &*classification : nullptr, writer,
                    out.pcap.get(), pcap_error);
  });
}

// The options of flows, and of classify (which has them all).
void add_record_options(CLI::App* cmd, FlowsOptions& o) {
  auto* read = cmd->add_option("-r,--read", o.inputs,
                               "Capture file (pcap or pcapng) or directory of captures; "
                               "repeatable")
                   ->allow_extra_args(false);
  add_live_options(cmd, o.live, read);
  cmd->add_option("filter", o.filter_words,
                  "BPF filter expression (tcpdump syntax), applied to each packet as captured");
  cmd->add_option("-o,--output", o.outputs,
                  "KIND:TARGET, repeatable: jsonl:FILE, csv:FILE, sqlite:FILE (flow records; "
                  "FILE - is stdout), mysql://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?socket=PATH] "
                  "(MariaDB or MySQL; no PASSWORD: $MYSQL_PWD), ipfix:HOST:PORT (UDP), "
                  "ipfix-tcp:HOST:PORT, pcap:FILE "
                  "(the selected packets); a bare FILE is jsonl:FILE (default: JSON Lines on "
                  "stdout)")
      ->allow_extra_args(false);
  cmd->add_option("--stats-json", o.stats_json,
                  "Also write the statistics as JSON lines: one per --stats-interval, and the "
                  "end-of-run totals last");
  cmd->add_option("--stats-interval", o.stats_interval,
                  "Print a statistics line (rate, Gbit/s, active flows, drops) every this many "
                  "seconds of run time (0.01 to 86400)")
      ->check(finite_number() & CLI::Range(0.01, 86400.0));
  cmd->add_flag("-q,--quiet", o.quiet, "Do not print the summary on stderr");
  cmd->add_option("--metrics", o.metrics,
                  "Serve the counters for Prometheus at http://ADDR:PORT/metrics while running");
  cmd->add_option("--web", o.web,
                  "Serve a live view of the run at http://ADDR:PORT/ (rates, drops, active "
                  "flows, last verdicts, labels over the last 5 minutes, top flows), its data "
                  "as JSON at /api/status");
  add_pipeline_options(cmd, o.pipeline, !o.classify);
}

}  // namespace

Runner add_flows_command(CLI::App& app) {
  auto opts = std::make_shared<FlowsOptions>();
  FlowsOptions& o = *opts;
  o.cmd = app.add_subcommand(
      "flows", "Track bidirectional flows in captures and write one JSON line per flow");
  o.cmd->footer(
      "Usage: etcpipe flows -r FILE [-r FILE...] [options] [BPF expression]\n"
      "       etcpipe flows -i IFACE [-i IFACE...] [options] [BPF expression]\n\n" +
      kLiveHelp +
      "\nExamples:\n"
      "  etcpipe flows -r trace.pcap\n"
      "  etcpipe flows -i eth0 --workers 4 -o flows.jsonl --duration 60 tcp or udp\n"
      "  etcpipe flows -r captures/ -o flows.jsonl tcp port 443\n"
      "  etcpipe flows -r a.pcapng -r b.pcap --stats-json stats.json 'vlan and udp'\n"
      "  etcpipe flows -r t.pcap -o csv:flows.csv -o sqlite:probe.db -o pcap:analysed.pcap\n" +
      kExitStatusHelp);
  add_record_options(o.cmd, o);
  return [opts] { return run(*opts); };
}

Runner add_classify_command(CLI::App& app) {
  auto opts = std::make_shared<FlowsOptions>();
  FlowsOptions& o = *opts;
  o.classify = true;
  CLI::App* cmd = o.cmd = app.add_subcommand(
      "classify",
      "Classify the flows of captures with a model: one JSON line per flow with its label");
  cmd->footer(
      "Usage: etcpipe classify -r FILE [-r FILE...] [--model DIR] [options] [BPF expression]\n"
      "       etcpipe classify -i IFACE [-i IFACE...] [--model DIR] [options] [BPF "
      "expression]\n\n" +
      kLiveHelp +
      "\n"
      "Each record is a flow of `etcpipe flows` plus action (what --enforce did: pass, drop\n"
      "or bypass from the verdict on; would-... with --enforce-dry-run; null: nothing),\n"
      "label, confidence (the class\n"
      "probability) and verdict_latency_ms (packet time from the flow's first packet to the\n"
      "moment its row was complete, plus the time the row waited for inference),\n"
      "decided_in (user, or kernel with --in-kernel) and verdict_status: classified, or why not "
      "(no-packet: no selected packet; no-row: every\n"
      "feature row in use; no-verdict: the row was dropped), with label null then. A flow\n"
      "short of N packets is classified --verdict-timeout seconds after its first selected\n"
      "one. The model directory (docs/MODELS.md)\n"
      "fixes the features: N packets, L bytes, and what they hold.\n\n"
      "Examples:\n"
      "  etcpipe classify -r trace.pcap\n"
      "  etcpipe classify -i eth0 -o sqlite:probe.db --stats-interval 10\n"
      "  etcpipe classify -r captures/ --model models/default -o sqlite:probe.db tcp or udp\n"
      "  etcpipe classify -r t.pcap --max-delay-ms 20 --infer-threads 2 --batch 64\n"
      "  etcpipe classify -i eth0 --enforce drop:BitTorrent@0.9 --enforce bypass:*\n"
      "  etcpipe classify -i eth0 --inline-to eth1 --enforce-file policy.txt\n"
      "  etcpipe classify -i eth0 --in-kernel --model models/kernel --enforce drop:Zoom@0.9\n"
      "Engines in this build: trees" +
      std::string(have_torchscript() ? ", TorchScript (libtorch)" : "") + "\n" + kExitStatusHelp);
  add_record_options(cmd, o);
  add_inference_options(cmd, o.inference);
  auto* group = cmd->add_option_group(
      "Enforcement", "Act on verdicts in XDP, on live traffic (-i; afpacket, afxdp, --inline-to)");
  group
      ->add_option("--enforce", o.enforce.rules,
                   "ACTION:LABEL[@MINCONF] (repeatable; the first rule that matches a verdict "
                   "wins): ACTION pass, drop (XDP_DROP from the flow's next packet) or bypass "
                   "(its packets go on, no longer to etcpipe; XDP counts them into its "
                   "record); LABEL a class of the model or * for any; MINCONF the least "
                   "confidence (0 to 1). Each record's action field says what was done")
      ->allow_extra_args(false);
  group->add_option("--enforce-file", o.enforce.file,
                    "Rules as for --enforce, one per line ('#' comments), after --enforce's");
  group->add_flag("--enforce-dry-run", o.enforce.dry_run,
                  "Act on nothing: say per flow what would be done (and write would-ACTION in "
                  "its record); works with -r too");
  auto* kernel = cmd->add_option_group(
      "In the kernel",
      "Classify in XDP, on live traffic (-i; afpacket, afxdp, --inline-to), with the integer "
      "forest of a kforest model (kernel.json)");
  kernel->add_flag("--in-kernel", o.inference.in_kernel,
                   "The XDP program classifies each flow at its K-th selected packet with "
                   "--model's kernel.json and acts at once (--enforce's rules, at most 8); "
                   "records say decided_in kernel or user");
  kernel
      ->add_option("--in-kernel-min-confidence", o.inference.in_kernel_min_confidence,
                   "Flows the kernel is less sure of go on to user space (default 0: none)")
      ->check(CLI::Range(0.0, 1.0));
  kernel->add_option("--cascade-model", o.inference.cascade_model,
                     "The model user space classifies the other flows with (default: --model's "
                     "float forest)");
  return [opts] { return run(*opts); };
}

}  // namespace etcpipe::cli
