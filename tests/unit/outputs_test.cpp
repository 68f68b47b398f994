// The table of record outputs: -o specs to sinks, and the errors a bad spec gets.
#include "export/outputs.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>

#include "export/mysql_writer.hpp"

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
    std::unique_ptr<FlowSink> sink =
        open_output(std::string(kind) + ":" + (dir / kind).string(), true, "x");
    ASSERT_NE(sink, nullptr) << kind;
    sink->close();
    std::vector<FlowSink::Report> reports;
    sink->report(reports);  // files say nothing in the summary
    EXPECT_TRUE(reports.empty()) << kind;
    EXPECT_TRUE(std::filesystem::exists(dir / kind)) << kind;
  }
  std::filesystem::remove_all(dir);
  std::unique_ptr<FlowSink> udp =
      open_output("ipfix:127.0.0.1:4739", false, "x");  // no peer needed
  udp->close();
  std::vector<FlowSink::Report> reports;
  udp->report(reports);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].line.rfind("ipfix: 0 records sent, 0 dropped", 0), 0u) << reports[0].line;
  EXPECT_FALSE(reports[0].loss);
}

TEST(Outputs, ABadSpecIsRefusedNamingIt) {
  EXPECT_NE(error_of("xml:out").find("--output xml:out: KIND must be jsonl, csv, sqlite"),
            std::string::npos);
  EXPECT_NE(error_of("pcap:x.pcap").find("KIND must be"), std::string::npos);  // not a record
  EXPECT_NE(error_of("csv:").find("no target"), std::string::npos);
  EXPECT_NE(error_of("ipfix:4739").find("expected ipfix:HOST:PORT"), std::string::npos);
  EXPECT_NE(error_of("ipfix-tcp:host:").find("expected ipfix-tcp:HOST:PORT"), std::string::npos);
  EXPECT_NE(error_of("ipfix:host:70000").find("bad port 70000"), std::string::npos);
  EXPECT_NE(error_of("mysql://u@h").find("no DATABASE"), std::string::npos);
  EXPECT_NE(error_of("mysql://h/db").find("no USER"), std::string::npos);
  EXPECT_NE(error_of("mysql://u:secret@h:99999/db").find("bad port 99999"), std::string::npos);
  EXPECT_EQ(error_of("mysql://u:secret@h:99999/db").find("secret"), std::string::npos);
  EXPECT_NE(error_of("mysql:http://u@h/db").find("expected mysql://USER"), std::string::npos);
  EXPECT_EQ(parse_port("4739", "p"), 4739);
  EXPECT_THROW(parse_port("0x10", "p"), std::runtime_error);
}

TEST(Outputs, MysqlUrisGiveEachPartDecoded) {
  MysqlUri u = parse_mysql_uri("//probe:p%40ss%3Aword@db.example:3307/flows");
  EXPECT_EQ(u.user, "probe");
  EXPECT_EQ(u.password, "p@ss:word");
  EXPECT_EQ(u.host, "db.example");
  EXPECT_EQ(u.port, 3307u);
  EXPECT_EQ(u.database, "flows");
  EXPECT_TRUE(u.socket.empty());
  u = parse_mysql_uri("mysql://root@[::1]/etc%20pipe");  // -o mysql:mysql://..., IPv6
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.port, 0u);
  EXPECT_EQ(u.database, "etc pipe");
  u = parse_mysql_uri("//root@/flows?socket=/tmp/my%20sql.sock");  // a unix socket
  EXPECT_TRUE(u.host.empty());
  EXPECT_EQ(u.socket, "/tmp/my sql.sock");
  u = parse_mysql_uri("//u:pa/ss@w@db/flows");  // '/' and '@' in a password given raw
  EXPECT_EQ(u.password, "pa/ss@w");
  EXPECT_EQ(u.host, "db");
  EXPECT_EQ(u.database, "flows");
  EXPECT_EQ(parse_mysql_uri("//u@[fe80::1%25eth0]:3306/d").host, "fe80::1%eth0");
  EXPECT_THROW(parse_mysql_uri("//root@/flows"), std::runtime_error);  // no host, no socket
  EXPECT_THROW(parse_mysql_uri("//root@h/flows?sock=x"), std::runtime_error);
  EXPECT_THROW(parse_mysql_uri("//root:%4@h/flows"), std::runtime_error);
}

TEST(Outputs, PasswordsInUrisAreHidden) {  // one command-line argument at a time
  EXPECT_EQ(hide_passwords("mysql://probe:s3cr:et@db:3306/f"), "mysql://probe:***@db:3306/f");
  EXPECT_EQ(hide_passwords("mysql:mysql://b:2@h/d"), "mysql:mysql://b:***@h/d");
  EXPECT_EQ(hide_passwords("mysql://u:pa/ss w@rd@h/d?socket=/s"), "mysql://u:***@h/d?socket=/s");
  EXPECT_EQ(hide_passwords("mysql://probe@h/d"), "mysql://probe@h/d");  // no password
  EXPECT_EQ(hide_passwords("csv:/tmp/a:b@c"), "csv:/tmp/a:b@c");        // not a URI
  EXPECT_EQ(password_spans("-o=mysql://u:pw@h/d"),
            (std::vector<std::pair<std::size_t, std::size_t>>{{13, 15}}));
}

}  // namespace
}  // namespace etcpipe
