#include "session/flow_session.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>

#include "capture/pcap_source.hpp"
#include "export/async_sink.hpp"
#include "export/fanout_sink.hpp"
#include "export/outputs.hpp"
#include "monitor/http_server.hpp"
#include "monitor/web_view.hpp"
#include "pipeline/run.hpp"
#include "pipeline/selected_pcap.hpp"

namespace etcpipe {

uint32_t probe_max_flows() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page = sysconf(_SC_PAGE_SIZE);
  const uint64_t mem = pages > 0 && page > 0 ? uint64_t(pages) * uint64_t(page) : (1ULL << 32);
  return static_cast<uint32_t>(
      std::min<uint64_t>(mem / 4 / FlowTable::bytes_per_flow(), uint64_t{1} << 31));
}

FlowPipelineConfig probe_pipeline() {
  FlowPipelineConfig cfg;
  cfg.table.max_flows = probe_max_flows();
  return cfg;
}

uint32_t snaplen_for(const FeatureSpec& spec) {
  return std::clamp(spec.bytes + 512, FlowPipelineConfig{}.select_snaplen, 65535u);
}

namespace {

// Appends one line to a statistics file (created anew by the run, see start_stats_file).
void append_line(const std::string& path, const std::string& line) {
  std::ofstream f(path, std::ios::app);
  f << line << '\n';
  if (!f) throw std::runtime_error(path + ": cannot write statistics");
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

// Opening an output truncates it: one that is an input would be lost before it is read.
void check_outputs_are_not_inputs(const FlowRunConfig& c, const std::vector<std::string>& files) {
  auto check = [&files](const std::string& what, const std::string& target) {
    std::error_code ec;
    if (target == "-" || !std::filesystem::exists(target, ec)) return;
    for (const std::string& input : files) {
      if (std::filesystem::equivalent(target, input, ec)) {
        throw std::runtime_error(what + " " + target + " is an input (" + input +
                                 "): refusing to overwrite it");
      }
    }
  };
  if (!c.stats_json.empty()) check("--stats-json", c.stats_json);
  for (const std::string& spec : c.outputs) {
    const OutputSpec out = parse_output(spec);
    if (!out.network()) check("--output", out.target);
  }
}

// The enforcement rules, in order; none: no enforcement.
std::optional<EnforcePolicy> enforce_policy(const FlowRunConfig& c) {
  const EnforceConfig& e = c.enforce;
  if (!e.given()) {
    if (e.dry_run) {
      throw std::runtime_error("--enforce-dry-run: give the rules (--enforce, --enforce-file)");
    }
    return std::nullopt;
  }
  if (!e.dry_run && !c.input.live.live()) {
    throw std::runtime_error(
        "--enforce acts on live traffic (-i); with -r, --enforce-dry-run says what it would do");
  }
  EnforcePolicy policy;
  for (const std::string& rule : e.rules) {
    try {
      policy.add(EnforcePolicy::parse_rule(rule));
    } catch (const std::invalid_argument& err) {
      throw std::runtime_error(std::string("--enforce ") + err.what());
    }
  }
  if (!e.file.empty()) policy.add_file(e.file);
  return policy;
}

// Where the run's records and selected packets go, and who watches.
struct Outputs {
  std::unique_ptr<WebView> web;  // before the sinks: they hand it their records
  std::unique_ptr<FanoutSink> sinks = std::make_unique<FanoutSink>();
  std::unique_ptr<SelectedPcapWriter> pcap;
};

Outputs open_outputs(const FlowRunConfig& c, const FlowPipelineConfig& cfg) {
  Outputs out;
  const bool verdicts = c.classification.has_value();
  if (!c.web.empty()) {
    const auto& source = c.input.live.live() ? c.input.live.interfaces : c.input.captures;
    out.web =
        std::make_unique<WebView>(c.web, verdicts ? "classify" : "flows", join(source), verdicts);
    out.sinks->add(out.web->tap());
  }
  for (const std::string& spec : c.outputs.empty() ? std::vector<std::string>{"-"} : c.outputs) {
    const OutputSpec parsed = parse_output(spec);
    // pcap: (once, with a target) is the pipeline's; anything else, a second or empty
    // pcap: included, is export's to open or refuse.
    if (parsed.kind == "pcap" && !out.pcap && !parsed.target.empty()) {
      out.pcap = std::make_unique<SelectedPcapWriter>(parsed.target, cfg.select_snaplen);
      continue;
    }
    out.sinks->add(open_output(spec, verdicts, c.command_line));
  }
  return out;
}

}  // namespace

FlowRunResult run_flow_session(const FlowRunConfig& c, const FlowRunHooks& hooks) {
  c.input.require_some();
  std::optional<EnforcePolicy> policy;
  if (c.classification) policy = enforce_policy(c);
  const bool in_kernel = c.classification && c.classification->in_kernel;
  const bool live = c.input.live.live();
  if (in_kernel && !live) {
    throw std::runtime_error("--in-kernel classifies in XDP, on live traffic (-i)");
  }
  if (in_kernel && c.enforce.dry_run) {
    throw std::runtime_error("--in-kernel acts in the kernel: --enforce-dry-run cannot go with it");
  }
  const bool enforce = policy && !c.enforce.dry_run;
  FlowPipelineConfig cfg = c.pipeline;
  std::optional<Classification> classification;
  if (c.classification) {
    classification.emplace(*c.classification);
    if (c.snaplen_from_model) cfg.select_snaplen = snaplen_for(classification->model().spec);
  }
  if (policy) policy->check_labels(classification->model().classes);  // before capture starts
  if (classification) classification->configure(cfg);
  // The kernel's model goes into the XDP program before it is attached anywhere.
  std::shared_ptr<const KernelSetup> kernel;
  if (in_kernel) {
    kernel = KernelSetup::load(c.classification->model, c.classification->in_kernel_min_confidence,
                               policy ? *policy : EnforcePolicy{});
  }
  Inputs in = open_inputs(c.input, hooks.warn, hooks.note, enforce || in_kernel,
                          [&kernel](XdpProgram& xdp) {
                            if (kernel) kernel->install(xdp);
                          });
  std::unique_ptr<PcapFileSource> file;
  if (!live) {
    check_outputs_are_not_inputs(c, in.files);
    file = std::make_unique<PcapFileSource>(std::move(in.files), c.input.filter, hooks.warn);
  }
  start_stats_file(c.stats_json);
  Outputs out = open_outputs(c, cfg);
  RunOptions ro;
  if (out.pcap) {
    ro.on_selected = [&out](const SelectedBatch& b) { out.pcap->write(b); };
  }
  ro.workers = c.input.workers;
  if (live) {
    ro.lossless = false;  // the link does not wait: copies and rows that find no room are counted
  } else {
    ro.stop = c.input.stop;
  }
  // What happens about once a second (every stats_interval seconds if given).
  std::vector<std::function<void(const RunStats&)>> ticks;
  if (c.stats_interval > 0) ro.tick_seconds = c.stats_interval;
  if (hooks.tick) ticks.push_back(hooks.tick);
  if (c.stats_interval > 0 && !c.stats_json.empty()) {
    ticks.push_back([&c](const RunStats& s) { append_line(c.stats_json, format_stats_json(s)); });
  }
  // Enforcement's counters for the metrics and the web view (empty: no enforcement).
  auto enforcement_metrics = [&classification] {
    const Enforcer* e = classification ? classification->enforcer() : nullptr;
    return e ? e->metrics() : std::string();
  };
  auto enforcement_json = [&classification] {
    const Enforcer* e = classification ? classification->enforcer() : nullptr;
    return e ? e->summary_json().dump() : std::string();
  };
  std::unique_ptr<MetricsServer> metrics;
  if (!c.metrics.empty()) {
    metrics = std::make_unique<MetricsServer>(c.metrics);
    ticks.push_back([&](const RunStats& s) { metrics->update(s, enforcement_metrics()); });
  }
  if (out.web) ticks.push_back([&](const RunStats& s) { out.web->update(s, enforcement_json()); });
  // The sinks format and write in a thread of their own; the collector waits for them when
  // they fall behind rather than lose records.
  AsyncSink writer(std::move(out.sinks), true);
  writer.set_give_up(c.give_up);  // a second signal: do not wait for a blocked output
  FlowSink* records = &writer;
  if (classification) {
    if (policy) {
      auto log = [&hooks](const std::string& msg) {
        if (hooks.log) hooks.log(msg);
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
  FlowRunResult r;
  r.stats =
      live ? run_flows(in.live.queues, cfg, *records, ro) : run_flows(*file, cfg, *records, ro);
  if (metrics) metrics->update(r.stats, enforcement_metrics());
  if (out.web) out.web->finish(r.stats, enforcement_json());
  if (out.pcap) {
    r.pcap.open = true;
    try {
      out.pcap->close();
      r.pcap.written = out.pcap->written();
      r.pcap.other_link_type = out.pcap->other_link_type();
    } catch (const std::exception& e) {
      r.pcap.error = e.what();
    }
  }
  if (classification) r.classification = classification->summary();
  writer.report(r.reports);
  r.dropped = writer.dropped();
  r.unreadable = (file ? file->open_failures() : 0) + r.stats.source.read_errors + in.skipped;
  if (hooks.end) hooks.end(r);
  if (!c.stats_json.empty()) {
    std::string totals = format_stats_json(r.stats);
    if (classification) {
      nlohmann::json j = nlohmann::json::parse(totals);
      j["classification"] = classification->summary_json();
      totals = j.dump();
    }
    append_line(c.stats_json, totals);
  }
  return r;
}

}  // namespace etcpipe
