#include "export/outputs.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>
#include <string_view>

#include "export/csv_writer.hpp"
#include "export/ipfix_exporter.hpp"
#include "export/jsonl_writer.hpp"
#include "export/mysql_writer.hpp"
#include "export/sqlite_writer.hpp"

namespace etcpipe {
namespace {

struct Opening {
  const std::string& spec;
  const OutputSpec& out;
  bool verdicts;
  const std::string& command_line;
};

std::unique_ptr<FlowSink> ipfix(const Opening& o, IpfixExporter::Transport transport) {
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
  return std::make_unique<IpfixExporter>(host, std::to_string(port), transport, o.verdicts);
}

struct Kind {
  std::string_view name;
  std::unique_ptr<FlowSink> (*open)(const Opening&);
};
constexpr std::array<Kind, 6> kKinds = {{
    {"jsonl",
     [](const Opening& o) -> std::unique_ptr<FlowSink> {
       return std::make_unique<JsonlWriter>(o.out.target, o.verdicts);
     }},
    {"csv",
     [](const Opening& o) -> std::unique_ptr<FlowSink> {
       return std::make_unique<CsvWriter>(o.out.target, o.verdicts);
     }},
    {"sqlite",
     [](const Opening& o) -> std::unique_ptr<FlowSink> {
       return std::make_unique<SqliteWriter>(o.out.target, o.command_line);
     }},
    {"mysql",
     [](const Opening& o) {
       return open_mysql(parse_mysql_uri(o.out.target), "--output " + hide_passwords(o.spec),
                         o.command_line);
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

std::unique_ptr<FlowSink> open_output(const std::string& spec, bool verdicts,
                                      const std::string& command_line) {
  const OutputSpec out = parse_output(spec);
  if (out.target.empty()) throw std::runtime_error("--output " + spec + ": no target");
  const auto kind =
      std::find_if(kKinds.begin(), kKinds.end(), [&](const Kind& k) { return k.name == out.kind; });
  if (kind == kKinds.end()) {
    throw std::runtime_error(
        "--output " + spec +
        ": KIND must be jsonl, csv, sqlite, mysql, ipfix, ipfix-tcp or pcap (pcap once)");
  }
  return kind->open({spec, out, verdicts, command_line});
}

std::vector<std::pair<std::size_t, std::size_t>> password_spans(std::string_view arg) {
  std::vector<std::pair<std::size_t, std::size_t>> spans;
  for (std::size_t at = arg.find("://"); at != std::string_view::npos; at = arg.find("://", at)) {
    at += 3;
    const std::size_t next = arg.find("://", at);  // the next URI, if the argument holds two
    const std::size_t user_end = arg.rfind('@', next);
    if (user_end == std::string_view::npos || user_end < at) continue;
    const std::size_t colon = arg.find(':', at);
    if (colon == std::string_view::npos || colon > user_end) continue;
    spans.emplace_back(colon + 1, user_end);
  }
  return spans;
}

std::string hide_passwords(std::string arg) {
  const auto spans = password_spans(arg);
  for (auto s = spans.rbegin(); s != spans.rend(); ++s) {
    arg.replace(s->first, s->second - s->first, "***");
  }
  return arg;
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
