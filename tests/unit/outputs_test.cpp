// The table of record outputs: -o specs to sinks, and the errors a bad spec gets.
#include "export/outputs.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>

namespace etcpipe {
namespace {

std::string error_of(const std::string& spec) {
  try {
    open_output(spec, false, "etcpipe test");
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "opened";
}

TEST(Outputs, ABareTargetIsJsonLinesAndKindsSplitAtTheFirstColon) {
  EXPECT_EQ(parse_output("out.jsonl").kind, "jsonl");
  EXPECT_EQ(parse_output("out.jsonl").target, "out.jsonl");
  const OutputSpec ipfix = parse_output("ipfix:[::1]:4739");
  EXPECT_EQ(ipfix.kind, "ipfix");
  EXPECT_EQ(ipfix.target, "[::1]:4739");
  EXPECT_TRUE(ipfix.network());
  EXPECT_FALSE(parse_output("csv:a:b").network());
}

TEST(Outputs, EachKindOpensItsSink) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("etcpipe-outputs-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  for (const char* kind : {"jsonl", "csv", "sqlite"}) {
    OpenedOutput o = open_output(std::string(kind) + ":" + (dir / kind).string(), true, "x");
    ASSERT_NE(o.sink, nullptr) << kind;
    EXPECT_EQ(o.ipfix, nullptr) << kind;
    o.sink->close();
    EXPECT_TRUE(std::filesystem::exists(dir / kind)) << kind;
  }
  std::filesystem::remove_all(dir);
  OpenedOutput udp = open_output("ipfix:127.0.0.1:4739", false, "x");  // UDP: no peer needed
  EXPECT_NE(udp.ipfix, nullptr);
}

TEST(Outputs, ABadSpecIsRefusedNamingIt) {
  EXPECT_NE(error_of("xml:out").find("--output xml:out: KIND must be jsonl, csv, sqlite"),
            std::string::npos);
  EXPECT_NE(error_of("pcap:x.pcap").find("KIND must be"), std::string::npos);  // not a record
  EXPECT_NE(error_of("csv:").find("no target"), std::string::npos);
  EXPECT_NE(error_of("ipfix:4739").find("expected ipfix:HOST:PORT"), std::string::npos);
  EXPECT_NE(error_of("ipfix-tcp:host:").find("expected ipfix-tcp:HOST:PORT"), std::string::npos);
  EXPECT_NE(error_of("ipfix:host:70000").find("bad port 70000"), std::string::npos);
  EXPECT_EQ(parse_port("4739", "p"), 4739);
  EXPECT_THROW(parse_port("0x10", "p"), std::runtime_error);
}

}  // namespace
}  // namespace etcpipe
