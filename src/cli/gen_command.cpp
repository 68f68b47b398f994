// etcpipe gen: synthetic traffic to a pcap file.
#include <iostream>

#include "capture/pcap_writer.hpp"
#include "cli/commands.hpp"
#include "cli/generator_options.hpp"

namespace etcpipe::cli {

Runner add_gen_command(CLI::App& app) {
  struct Options {
    GeneratorOptions gen;
    std::string output;
    uint32_t snaplen = 65535;
  };
  auto opts = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("gen", "Generate synthetic traffic into a pcap file");
  cmd->footer(
      "Example:\n"
      "  etcpipe gen --flows 100000 --new-flows-per-sec 10000 --packet-size 64,1500 "
      "--packets 1000000 -w traffic.pcap");
  cmd->add_option("-w,--write", opts->output, "pcap file to write")->required();
  cmd->add_option("-s,--snaplen", opts->snaplen, "Bytes kept of each packet")
      ->capture_default_str()
      ->check(CLI::Range(64u, 262144u));
  add_generator_options(*cmd, opts->gen);
  return [opts] {
    try {
      GeneratorConfig cfg = generator_config(opts->gen);
      cfg.snaplen = opts->snaplen;
      GeneratorSource gen(cfg);
      PcapWriter out(opts->output, 1, opts->snaplen);
      PacketBatch batch;
      while (gen.next_batch(batch)) out.write(batch);
      out.close();
      std::cerr << "etcpipe: " << gen.stats().packets << " packets (" << gen.stats().bytes
                << " bytes), " << gen.flows_born() << " flows, written to " << opts->output << '\n';
      return 0;
    } catch (const std::exception& e) {
      std::cerr << "etcpipe: " << e.what() << '\n';
      return 2;
    }
  };
}

}  // namespace etcpipe::cli
