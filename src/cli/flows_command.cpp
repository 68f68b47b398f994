// etcpipe flows: read captures, track bidirectional flows, write one record per flow.
#include <unistd.h>

#include <algorithm>
#include <bitset>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <thread>

#include "capture/pcap_source.hpp"
#include "cli/commands.hpp"
#include "export/jsonl_writer.hpp"
#include "flow/flow_table.hpp"
#include "pipeline/run.hpp"

namespace etcpipe::cli {
namespace {

struct FlowsOptions {
  std::vector<std::string> inputs;
  std::vector<std::string> filter_words;
  std::string output = "-";
  std::string stats_json;
  bool no_decap = false;
  bool quiet = false;
  uint32_t max_flows = 0;
  double tcp_idle = 300, udp_idle = 60, other_idle = 60, active = 1800, tcp_close = 10;
  uint32_t frag_slots = 4096;
  double frag_timeout = 30;
  // The reader takes a core of its own: one worker fewer than cores (one at least).
  unsigned workers = std::max(2u, std::thread::hardware_concurrency()) - 1;
  double stats_interval = 0;
  uint32_t select_packets = 10;
  std::string select_proto = "both";
  bool select_empty = false;
  std::string select_direction = "both";
  uint32_t select_min_payload = 0;
  std::vector<uint16_t> select_ports;
  std::string select_filter;
  uint32_t select_snaplen = 1600;
};

// A quarter of physical memory, in flows.
uint32_t default_max_flows() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page = sysconf(_SC_PAGE_SIZE);
  const uint64_t mem = pages > 0 && page > 0 ? uint64_t(pages) * uint64_t(page) : (1ULL << 32);
  return static_cast<uint32_t>(
      std::min<uint64_t>(mem / 4 / FlowTable::bytes_per_flow(), uint64_t{1} << 31));
}

constexpr double kMaxTimeoutSeconds = 1e9;  // ~31 years; keeps ns arithmetic in range

uint64_t to_ns(double seconds) {
  return static_cast<uint64_t>(seconds * 1e9);
}

std::string join(const std::vector<std::string>& words) {
  std::string s;
  for (const auto& w : words) s += (s.empty() ? "" : " ") + w;
  return s;
}

// Appends one line to a statistics file (created anew by the run, see run()).
void append_line(const std::string& path, const std::string& line) {
  std::ofstream f(path, std::ios::app);
  f << line << '\n';
  if (!f) throw std::runtime_error(path + ": cannot write statistics");
}

int run(const FlowsOptions& o) {
  install_stop_handlers();
  FlowPipelineConfig cfg;
  cfg.decoder.decapsulate = !o.no_decap;
  cfg.table.max_flows = o.max_flows != 0 ? o.max_flows : default_max_flows();
  cfg.table.timeouts = {to_ns(o.tcp_idle), to_ns(o.udp_idle), to_ns(o.other_idle), to_ns(o.active),
                        to_ns(o.tcp_close)};
  cfg.frag_slots = o.frag_slots;
  cfg.frag_timeout_ns = to_ns(o.frag_timeout);
  SelectionRules& sel = cfg.table.select;
  sel.packets = o.select_packets;
  sel.tcp = o.select_proto != "udp";
  sel.udp = o.select_proto != "tcp";
  sel.keep_empty = o.select_empty;
  sel.direction = o.select_direction == "c2s"   ? Direction::ClientToServer
                  : o.select_direction == "s2c" ? Direction::ServerToClient
                                                : Direction::Both;
  sel.min_payload = o.select_min_payload;
  if (!o.select_ports.empty()) {
    auto ports = std::make_shared<std::bitset<65536>>();
    for (uint16_t p : o.select_ports) ports->set(p);
    sel.ports = std::move(ports);
  }
  cfg.select_filter = o.select_filter;
  cfg.select_snaplen = o.select_snaplen;

  try {
    if (!o.stats_json.empty() && o.stats_json != "/dev/stdout" && o.stats_json != "/dev/stderr") {
      std::ofstream(o.stats_json, std::ios::trunc);  // each run starts the file anew
    }
    const bool progress = !o.quiet && isatty(STDERR_FILENO);
    auto warn = [progress](const std::string& msg) {
      std::cerr << (progress ? "\r\x1b[K" : "") << "etcpipe: " << msg << '\n';
    };
    PcapFileSource source(expand_capture_paths(o.inputs), join(o.filter_words), warn);
    JsonlWriter sink(o.output);
    RunOptions ro;
    ro.workers = o.workers;
    ro.stop = &stop_flag();
    if (o.stats_interval > 0) {  // one line per interval
      ro.tick_seconds = o.stats_interval;
      ro.on_tick = [&source, &o](const RunStats& s) {
        std::cerr << "etcpipe: " << format_progress(s, source.progress()) << '\n';
        if (!o.stats_json.empty()) append_line(o.stats_json, format_stats_json(s));
      };
    } else if (progress) {  // a line rewritten in place about once a second
      ro.on_tick = [&source](const RunStats& s) {
        std::cerr << '\r' << format_progress(s, source.progress()) << "\x1b[K" << std::flush;
      };
    }
    const RunStats stats = run_flows(source, cfg, sink, ro);
    if (progress) std::cerr << "\r\x1b[K";
    if (!o.quiet) std::cerr << format_summary(stats);
    if (!o.stats_json.empty()) append_line(o.stats_json, format_stats_json(stats));
    if (source.open_failures() != 0) {
      std::cerr << "etcpipe: " << source.open_failures() << " input(s) could not be read\n";
      return 1;
    }
    return stats.accounting_balanced() ? 0 : 3;
  } catch (const std::exception& e) {
    std::cerr << "etcpipe: " << e.what() << '\n';
    return 2;
  }
}

}  // namespace

Runner add_flows_command(CLI::App& app) {
  auto opts = std::make_shared<FlowsOptions>();
  FlowsOptions& o = *opts;
  CLI::App* cmd = app.add_subcommand(
      "flows", "Track bidirectional flows in captures and write one JSON line per flow");

  cmd->footer(
      "Usage: etcpipe flows -r FILE [-r FILE...] [options] [BPF expression]\n\n"
      "Examples:\n"
      "  etcpipe flows -r trace.pcap\n"
      "  etcpipe flows -r captures/ -o flows.jsonl tcp port 443\n"
      "  etcpipe flows -r a.pcapng -r b.pcap --stats-json stats.json 'vlan and udp'\n"
      "Exit status: 0 ok, 1 some input unreadable, 2 usage or fatal error.");
  cmd->add_option("-r,--read", o.inputs,
                  "Capture file (pcap or pcapng) or directory of captures; repeatable")
      ->required()
      ->allow_extra_args(false);
  cmd->add_option("filter", o.filter_words,
                  "BPF filter expression (tcpdump syntax), applied to each packet as captured");
  cmd->add_option("-o,--output", o.output, "Write flow records (JSON Lines) here; - = stdout")
      ->capture_default_str();
  cmd->add_option("--stats-json", o.stats_json,
                  "Also write the statistics as JSON lines: one per --stats-interval, and the "
                  "end-of-run totals last");
  cmd->add_option("--stats-interval", o.stats_interval,
                  "Print a statistics line (rate, Gbit/s, active flows, drops) every this many "
                  "seconds of run time")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("-q,--quiet", o.quiet, "Do not print the summary on stderr");
  cmd->add_option("--workers", o.workers,
                  "Flow-tracking worker threads; packets reach them by symmetric Toeplitz "
                  "hash (default: one fewer than the cores, as the reader takes one)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 256u));
  cmd->add_flag("--no-decap", o.no_decap,
                "Do not decapsulate tunnels (IP-in-IP, GRE, VXLAN, GTP-U): track the outer flow");
  cmd->add_option("--max-flows", o.max_flows,
                  "Flow table capacity; when full the least recently seen flow is evicted "
                  "(default: a quarter of physical memory, " +
                      std::to_string(FlowTable::bytes_per_flow()) + " bytes per flow)");
  auto* timeouts = cmd->add_option_group("Timeouts", "Seconds of packet time; 0 disables one");
  auto timeout = [&](const char* name, double& value, const char* what) {
    timeouts->add_option(name, value, what)
        ->capture_default_str()
        ->check(CLI::Range(0.0, kMaxTimeoutSeconds));
  };
  timeout("--tcp-idle", o.tcp_idle, "TCP idle timeout");
  timeout("--udp-idle", o.udp_idle, "UDP idle timeout");
  timeout("--other-idle", o.other_idle, "Idle timeout of other protocols");
  timeout("--active-timeout", o.active, "Active timeout: a longer flow is split into records");
  timeout("--tcp-close-timeout", o.tcp_close,
          "How long a TCP flow lingers after FIN both ways or RST, to absorb its last "
          "packets; a new SYN on the same 5-tuple starts a new flow at once");
  timeout("--frag-timeout", o.frag_timeout,
          "How long a datagram's later fragments are awaited after the last one");
  cmd->add_option("--frag-table", o.frag_slots, "Entries of the IP fragment table (64 bytes each)")
      ->capture_default_str();
  auto* sel = cmd->add_option_group(
      "Selection", "Which packets of each flow go to feature extraction (the first N that match)");
  sel->add_option("--select-packets", o.select_packets, "N: packets selected per flow, 0-255")
      ->capture_default_str()
      ->check(CLI::Range(0u, 255u));
  sel->add_option("--select-proto", o.select_proto, "Protocols whose packets are selected")
      ->capture_default_str()
      ->check(CLI::IsMember({"tcp", "udp", "both"}));
  sel->add_flag("--select-empty", o.select_empty,
                "Also select packets without payload (pure ACK, bare SYN/FIN/RST)");
  sel->add_option("--select-direction", o.select_direction,
                  "both, c2s (client to server) or s2c (server to client)")
      ->capture_default_str()
      ->check(CLI::IsMember({"both", "c2s", "s2c"}));
  sel->add_option("--select-min-payload", o.select_min_payload,
                  "Minimum L4 payload bytes of a selected packet")
      ->capture_default_str();
  sel->add_option("--select-ports", o.select_ports,
                  "Only flows with one of these L4 ports (comma-separated)")
      ->delimiter(',')
      ->allow_extra_args(false);
  sel->add_option("--select-filter", o.select_filter,
                  "BPF expression a packet must also match to be selected");
  sel->add_option("--select-snaplen", o.select_snaplen,
                  "Bytes copied of each selected packet (the extractor's input)")
      ->capture_default_str()
      ->check(CLI::Range(64u, 65535u));
  return [opts] { return run(*opts); };
}

}  // namespace etcpipe::cli
