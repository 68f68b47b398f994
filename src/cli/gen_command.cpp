// etcpipe gen: synthetic traffic to a pcap file, or sent on an interface.
#include <algorithm>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/generator_options.hpp"
#include "session/generated_traffic.hpp"

namespace etcpipe::cli {
namespace {

// Says what was sent; 1 if the interface refused packets or left some out.
int report_sent(const GenResult& r, const std::string& iface) {
  std::cerr << "etcpipe: " << r.packets - r.refused << " packets (" << r.bytes << " bytes) sent on "
            << iface << " in " << r.seconds << " s, "
            << static_cast<uint64_t>(double(r.packets) / std::max(r.seconds, 1e-9)) << " packets/s";
  if (r.refused != 0) std::cerr << "; " << r.refused << " refused by the interface";
  if (r.too_long != 0) {
    std::cerr << "; " << r.too_long << " longer than " << iface << " takes, left out";
  }
  std::cerr << '\n';
  if (r.interrupted) return interrupted_status();
  return r.refused == 0 && r.too_long == 0 ? 0 : 1;
}

}  // namespace

Runner add_gen_command(CLI::App& app) {
  struct Options {
    GeneratorConfig traffic;
    double duration = 0;
    std::string output;
    std::string send;
    uint32_t snaplen = 65535;
  };
  auto opts = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "gen", "Generate synthetic traffic into a pcap file, or send it on an interface");
  cmd->footer(
      "Examples:\n"
      "  etcpipe gen --flows 100000 --new-flows-per-sec 10000 --packet-size 64,1500 "
      "--packets 1000000 -w traffic.pcap\n"
      "  etcpipe gen --send veth0 --rate 200000 --flows 10000 --packets 2000000");
  auto* write = cmd->add_option("-w,--write", opts->output, "pcap file to write");
  auto* send = cmd->add_option("--send", opts->send,
                               "Send the packets on this interface instead, --rate packets per "
                               "second (AF_PACKET TX ring; needs CAP_NET_RAW)")
                   ->excludes(write);
  write->excludes(send);
  cmd->add_option("-s,--snaplen", opts->snaplen, "Bytes kept of each packet")
      ->capture_default_str()
      ->check(CLI::Range(64u, 262144u));
  add_generator_options(*cmd, opts->traffic, opts->duration);
  return [opts] {
    install_stop_handlers();
    try {
      GeneratorConfig cfg = checked_generator(opts->traffic, opts->duration);
      cfg.snaplen = opts->snaplen;
      if (!opts->send.empty()) {
        return report_sent(send_generated(cfg, opts->send, &stop_flag()), opts->send);
      }
      if (opts->output.empty()) throw std::runtime_error("give -w FILE or --send IFACE");
      const GenResult r = write_generated(cfg, opts->output, opts->snaplen, &stop_flag());
      std::cerr << "etcpipe: " << r.packets << " packets (" << r.bytes << " bytes), " << r.flows
                << " flows, written to " << opts->output << '\n';
      return r.interrupted ? interrupted_status() : 0;
    } catch (const std::exception& e) {
      std::cerr << "etcpipe: " << e.what() << '\n';
      return 2;
    }
  };
}

}  // namespace etcpipe::cli
