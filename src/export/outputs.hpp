// The record outputs of a run, opened from their -o specs, KIND:TARGET (a bare TARGET is
// JSON Lines): the one table of output kinds. The CLI hands the specs over; `pcap:` (the
// selected packets, not records) is the pipeline's and is opened there.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "export/sink.hpp"

namespace etcpipe {

struct OutputSpec {
  std::string kind, target;
  // The target is a server (HOST:PORT, a URI), not a file.
  bool network() const { return kind == "ipfix" || kind == "ipfix-tcp" || kind == "mysql"; }
};
OutputSpec parse_output(const std::string& spec);

// Opens the record output `spec` names: jsonl, csv, sqlite, mysql, ipfix or ipfix-tcp.
// `verdicts`: the records carry verdicts; `command_line` is what a database output records
// of the run (its passwords hidden by the caller: hide_passwords on each argument). Throws
// std::runtime_error, naming the spec (its password hidden), for a bad target or kind.
std::unique_ptr<FlowSink> open_output(const std::string& spec, bool verdicts,
                                      const std::string& command_line);

// One command-line argument with the password of a URI in it (scheme://user:PASSWORD@host,
// PASSWORD up to the argument's last '@') as ***.
std::string hide_passwords(std::string arg);
// Where those passwords lie in `arg`: [begin, end) offsets.
std::vector<std::pair<std::size_t, std::size_t>> password_spans(std::string_view arg);

// A TCP/UDP port given as text (1 to 65535, digits only); throws std::runtime_error naming
// `what` otherwise.
uint16_t parse_port(const std::string& text, const std::string& what);

}  // namespace etcpipe
