// etcpipe gen: synthetic traffic to a pcap file, or sent on an interface.
#include <algorithm>
#include <chrono>
#include <iostream>

#include "capture/afpacket_sender.hpp"
#include "capture/pcap_writer.hpp"
#include "cli/commands.hpp"
#include "cli/generator_options.hpp"

namespace etcpipe::cli {
namespace {

// Sends the packets at their packet-time rate (--rate).
int send_on(GeneratorSource& gen, PacketBatch& batch, const std::string& iface,
            const GeneratorConfig& cfg) {
  uint32_t largest = 0;
  for (uint32_t size : cfg.packet_sizes) largest = std::max(largest, size);
  AfPacketSender out(iface, largest, cfg.rate_pps);
  const auto start = std::chrono::steady_clock::now();
  while (!stop_flag().load(std::memory_order_relaxed) && gen.next_batch(batch)) out.send(batch);
  const uint64_t refused = out.finish();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cerr << "etcpipe: " << out.packets() - refused << " packets (" << out.bytes()
            << " bytes) sent on " << iface << " in " << s << " s, "
            << static_cast<uint64_t>(double(out.packets()) / std::max(s, 1e-9)) << " packets/s";
  if (refused != 0) std::cerr << "; " << refused << " refused by the interface";
  if (out.too_long() != 0) {
    std::cerr << "; " << out.too_long() << " longer than " << iface << " takes, left out";
  }
  std::cerr << '\n';
  if (stop_flag().load()) return interrupted_status();
  return refused == 0 && out.too_long() == 0 ? 0 : 1;
}

}  // namespace

Runner add_gen_command(CLI::App& app) {
  struct Options {
    GeneratorOptions gen;
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
  add_generator_options(*cmd, opts->gen);
  return [opts] {
    install_stop_handlers();
    try {
      GeneratorConfig cfg = generator_config(opts->gen);
      cfg.snaplen = opts->snaplen;
      GeneratorSource gen(cfg);
      PacketBatch batch;
      if (!opts->send.empty()) return send_on(gen, batch, opts->send, cfg);
      if (opts->output.empty()) throw std::runtime_error("give -w FILE or --send IFACE");
      PcapWriter out(opts->output, 1, opts->snaplen);
      while (!stop_flag().load(std::memory_order_relaxed) && gen.next_batch(batch)) {
        out.write(batch);
      }
      out.close();
      std::cerr << "etcpipe: " << gen.stats().packets << " packets (" << gen.stats().bytes
                << " bytes), " << gen.flows_born() << " flows, written to " << opts->output << '\n';
      return stop_flag().load() ? interrupted_status() : 0;
    } catch (const std::exception& e) {
      std::cerr << "etcpipe: " << e.what() << '\n';
      return 2;
    }
  };
}

}  // namespace etcpipe::cli
