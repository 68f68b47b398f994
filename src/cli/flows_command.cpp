// etcpipe flows: read captures, track bidirectional flows, write one record per flow.
// etcpipe classify: the same, with a model's verdict (label, confidence, latency) in each
// record: features extracted in the workers, batched inference, verdicts joined to records.
// The options fill the session's FlowRunConfig; run_flow_session runs it.
#include <unistd.h>

#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "cli/inference_options.hpp"
#include "cli/input_options.hpp"
#include "cli/pipeline_options.hpp"
#include "session/flow_session.hpp"

namespace etcpipe::cli {
namespace {

struct FlowsOptions {
  FlowRunConfig run;
  bool quiet = false;
  CLI::App* cmd = nullptr;
};

// What the run says at its end, before the statistics file gets its totals.
void print_summary(const FlowsOptions& o, const FlowRunResult& r) {
  if (!o.quiet) std::cerr << format_summary(r.stats) << r.classification;
  for (const FlowSink::Report& report : r.reports) {  // the outputs that talk to servers
    if (!o.quiet || report.loss) std::cerr << report.line << '\n';
  }
  if (r.pcap.open && !o.quiet && r.pcap.error.empty()) {
    std::cerr << "pcap: " << r.pcap.written << " selected packets written";
    if (r.pcap.other_link_type != 0) {
      std::cerr << ", " << r.pcap.other_link_type << " of another link type left out";
    }
    std::cerr << '\n';
  }
}

// What went wrong, and the exit status.
int conclude(const FlowRunResult& r) {
  if (r.dropped != 0) {
    std::cerr << "etcpipe: " << r.dropped
              << " records dropped: the run was ended while an output was behind\n";
  }
  if (!r.pcap.error.empty()) {
    std::cerr << "etcpipe: " << r.pcap.error << '\n';
    return 2;
  }
  return exit_status(r.stats.interrupted, r.unreadable, r.stats.accounting_balanced());
}

int run(FlowsOptions& o) {
  install_stop_handlers();
  FlowRunConfig& c = o.run;
  return run_guarded(c.pipeline, [&] {
    auto given = [&o](const char* name) { return o.cmd->count(name) > 0; };
    if (c.classification) {
      for (const char* opt : {"--in-kernel-min-confidence", "--cascade-model"}) {
        if (!c.classification->in_kernel && given(opt)) {
          throw std::runtime_error(std::string(opt) + " goes with --in-kernel");
        }
      }
      if (c.enforce.given() && !c.enforce.dry_run && !given("--max-delay-ms")) {
        c.classification->infer.max_delay_ms = ClassifierConfig::kEnforcingMaxDelayMs;
      }
    }
    c.snaplen_from_model = !given("--select-snaplen");
    c.command_line = command_line();
    const bool progress = !o.quiet && isatty(STDERR_FILENO);
    FlowRunHooks hooks;
    hooks.warn = warner(progress);
    hooks.note = hooks.log = noter(o.quiet);
    if (c.stats_interval > 0) {  // one line per interval
      hooks.tick = [](const RunStats& s) {
        std::cerr << "etcpipe: " << format_progress(s) << '\n';
      };
    } else if (progress) {  // a line rewritten in place
      hooks.tick = [](const RunStats& s) {
        std::cerr << '\r' << format_progress(s) << "\x1b[K" << std::flush;
      };
    }
    hooks.end = [&](const FlowRunResult& r) {
      if (progress) std::cerr << "\r\x1b[K";
      print_summary(o, r);
    };
    return conclude(run_flow_session(c, hooks));
  });
}

// The options of flows, and of classify (which has them all).
void add_record_options(CLI::App* cmd, FlowsOptions& o) {
  add_input_options(cmd, o.run.input,
                    "BPF filter expression (tcpdump syntax), applied to each packet as captured");
  cmd->add_option("-o,--output", o.run.outputs,
                  "KIND:TARGET, repeatable: jsonl:FILE, csv:FILE, sqlite:FILE (flow records; "
                  "FILE - is stdout), mysql://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?socket=PATH] "
                  "(MariaDB or MySQL; no PASSWORD: $MYSQL_PWD), ipfix:HOST:PORT (UDP), "
                  "ipfix-tcp:HOST:PORT, pcap:FILE "
                  "(the selected packets); a bare FILE is jsonl:FILE (default: JSON Lines on "
                  "stdout)")
      ->allow_extra_args(false);
  cmd->add_option("--stats-json", o.run.stats_json,
                  "Also write the statistics as JSON lines: one per --stats-interval, and the "
                  "end-of-run totals last");
  cmd->add_option("--stats-interval", o.run.stats_interval,
                  "Print a statistics line (rate, Gbit/s, active flows, drops) every this many "
                  "seconds of run time (0.01 to 86400)")
      ->check(finite_number() & CLI::Range(0.01, 86400.0));
  cmd->add_flag("-q,--quiet", o.quiet, "Do not print the summary on stderr");
  cmd->add_option("--metrics", o.run.metrics,
                  "Serve the counters for Prometheus at http://ADDR:PORT/metrics while running");
  cmd->add_option("--web", o.run.web,
                  "Serve a live view of the run at http://ADDR:PORT/ (rates, drops, active "
                  "flows, last verdicts, labels over the last 5 minutes, top flows), its data "
                  "as JSON at /api/status");
  add_pipeline_options(cmd, o.run.pipeline, o.run.input, !o.run.classification);
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
  ClassificationConfig& inference = o.run.classification.emplace();
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
      "decided_in (user, or kernel with --in-kernel) and verdict_status: classified, or why\n"
      "not, with label and confidence null then (no-packet: no selected packet, that is no\n"
      "TCP or UDP packet with payload, as ICMP or a bare handshake; out-of-scope: fewer\n"
      "selected packets than the model's scope.min_packets, and no --enforce rule acts on\n"
      "it; no-row: every feature row in use; no-verdict: the row was dropped).\n"
      "A flow short of N packets is classified --verdict-timeout seconds after its first\n"
      "selected one. The model directory (docs/MODELS.md) fixes the features: N packets,\n"
      "L bytes, and what they hold, and its own min_confidence and scope.\n\n"
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
  add_inference_options(cmd, inference);
  auto* group = cmd->add_option_group(
      "Enforcement", "Act on verdicts in XDP, on live traffic (-i; afpacket, afxdp, --inline-to)");
  group
      ->add_option("--enforce", o.run.enforce.rules,
                   "ACTION:LABEL[@MINCONF] (repeatable; the first rule that matches a verdict "
                   "wins): ACTION pass, drop (XDP_DROP from the flow's next packet) or bypass "
                   "(its packets go on, no longer to etcpipe; XDP counts them into its "
                   "record); LABEL a class of the model or * for any; MINCONF the least "
                   "confidence (0 to 1). Each record's action field says what was done")
      ->allow_extra_args(false);
  group->add_option("--enforce-file", o.run.enforce.file,
                    "Rules as for --enforce, one per line ('#' comments), after --enforce's");
  group->add_flag("--enforce-dry-run", o.run.enforce.dry_run,
                  "Act on nothing: say per flow what would be done (and write would-ACTION in "
                  "its record); works with -r too");
  auto* kernel = cmd->add_option_group(
      "In the kernel",
      "Classify in XDP, on live traffic (-i; afpacket, afxdp, --inline-to), with the integer "
      "forest of a kforest model (kernel.json)");
  kernel->add_flag("--in-kernel", inference.in_kernel,
                   "The XDP program classifies each flow at its K-th selected packet with "
                   "--model's kernel.json and acts at once (--enforce's rules, at most 8); "
                   "records say decided_in kernel or user");
  kernel
      ->add_option("--in-kernel-min-confidence", inference.in_kernel_min_confidence,
                   "Flows the kernel is less sure of go on to user space (default 0: none)")
      ->check(CLI::Range(0.0, 1.0));
  kernel->add_option("--cascade-model", inference.cascade_model,
                     "The model user space classifies the other flows with (default: --model's "
                     "float forest)");
  return [opts] { return run(*opts); };
}

}  // namespace etcpipe::cli
