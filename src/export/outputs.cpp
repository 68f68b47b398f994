#include "export/outputs.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>
#include <string_view>

#include "export/csv_writer.hpp"
#include "export/ipfix_exporter.hpp"
#include "export/jsonl_writer.hpp"
#include "export/sqlite_writer.hpp"

namespace etcpipe {
namespace {

struct Opening {
  const std::string& spec;
  const OutputSpec& out;
  bool verdicts;
  const std::string& command_line;
};

OpenedOutput ipfix(const Opening& o, IpfixExporter::Transport transport) {
  const std::string& target = o.out.target;
  const auto port_at = target.rfind(':');
  std::string host = port_at == std::string::npos ? "" : target.substr(0, port_at);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);  // [IPv6 address]
  }
  if (host.empty() || port_at + 1 == target.size()) {
    throw std::runtime_error("--output " + o.spec + ": expected " + o.out.kind + ":HOST:PORT");
  }
  const uint16_t port = parse_port(target.substr(port_at + 1), "--output " + o.spec);
  auto exporter =
      std::make_unique<IpfixExporter>(host, std::to_string(port), transport, o.verdicts);
  const IpfixExporter* raw = exporter.get();
  return {std::move(exporter), raw};
}

struct Kind {
  std::string_view name;
  OpenedOutput (*open)(const Opening&);
};
constexpr std::array<Kind, 5> kKinds = {{
    {"jsonl",
     [](const Opening& o) {
       return OpenedOutput{std::make_unique<JsonlWriter>(o.out.target, o.verdicts)};
     }},
    {"csv",
     [](const Opening& o) {
       return OpenedOutput{std::make_unique<CsvWriter>(o.out.target, o.verdicts)};
     }},
    {"sqlite",
     [](const Opening& o) {
       return OpenedOutput{std::make_unique<SqliteWriter>(o.out.target, o.command_line)};
     }},
    {"ipfix", [](const Opening& o) { return ipfix(o, IpfixExporter::Transport::Udp); }},
    {"ipfix-tcp", [](const Opening& o) { return ipfix(o, IpfixExporter::Transport::Tcp); }},
}};

}  // namespace

OutputSpec parse_output(const std::string& spec) {
  const auto colon = spec.find(':');
  if (colon == std::string::npos) return {"jsonl", spec};
  return {spec.substr(0, colon), spec.substr(colon + 1)};
}

OpenedOutput open_output(const std::string& spec, bool verdicts, const std::string& command_line) {
  const OutputSpec out = parse_output(spec);
  if (out.target.empty()) throw std::runtime_error("--output " + spec + ": no target");
  const auto kind =
      std::find_if(kKinds.begin(), kKinds.end(), [&](const Kind& k) { return k.name == out.kind; });
  if (kind == kKinds.end()) {
    throw std::runtime_error(
        "--output " + spec +
        ": KIND must be jsonl, csv, sqlite, ipfix, ipfix-tcp or pcap (pcap once)");
  }
  return kind->open({spec, out, verdicts, command_line});
}

uint16_t parse_port(const std::string& text, const std::string& what) {
  const bool digits =
      !text.empty() && text.size() <= 5 &&
      std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  const unsigned long port = digits ? std::stoul(text) : 0;
  if (port < 1 || port > 65535) {
    throw std::runtime_error(what + ": bad port " + text + " (1 to 65535)");
  }
  return static_cast<uint16_t>(port);
}

}  // namespace etcpipe
