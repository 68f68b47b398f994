// The record outputs of a run, opened from their -o specs, KIND:TARGET (a bare TARGET is
// JSON Lines): the one table of output kinds. The CLI hands the specs over; `pcap:` (the
// selected packets, not records) is the pipeline's and is opened there.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "export/sink.hpp"

namespace etcpipe {

class IpfixExporter;

struct OutputSpec {
  std::string kind, target;
  // The target is HOST:PORT, not a file.
  bool network() const { return kind == "ipfix" || kind == "ipfix-tcp"; }
};
OutputSpec parse_output(const std::string& spec);

struct OpenedOutput {
  std::unique_ptr<FlowSink> sink;
  const IpfixExporter* ipfix = nullptr;  // the sink, when it is an IPFIX exporter
};
// Opens the record output `spec` names: jsonl, csv, sqlite, ipfix or ipfix-tcp. `verdicts`:
// the records carry verdicts; `command_line` is what a SQLite output records of the run.
// Throws std::runtime_error, naming the spec, for a bad target or kind.
OpenedOutput open_output(const std::string& spec, bool verdicts, const std::string& command_line);

// A TCP/UDP port given as text (1 to 65535, digits only); throws std::runtime_error naming
// `what` otherwise.
uint16_t parse_port(const std::string& text, const std::string& what);

}  // namespace etcpipe
