// MariaDB and MySQL (-o mysql://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?socket=PATH]), through
// Debian's libmariadb (optional at build time). The tables are the SQLite output's
// (sqlite_writer.hpp), in MySQL's types, created if absent so that runs accumulate:
//   runs(id BIGINT UNSIGNED AUTO_INCREMENT, started_at DATETIME(6), finished_at DATETIME(6)
//        NULL until the run ends, command MEDIUMTEXT (passwords hidden), statistics JSON)
//   flows(id, run_id, <the record fields>, label, confidence, ...): addresses VARCHAR(45),
//        other text VARCHAR(255), counters BIGINT UNSIGNED, each time as first_ts
//        DATETIME(6) (UTC) and first_ts_ns BIGINT UNSIGNED; indexes on run_id, first_ts and
//        the 5-tuple (src_ip, dst_ip, src_port, dst_port, proto).
// InnoDB; each batch of records (up to 1,024) is one transaction of multi-row INSERTs, so a
// run killed at any moment leaves every batch committed before.
// A server that goes away (or turns read-only): the batch is kept, with those that follow
// (up to kBacklogRecords, the rest counted as lost), and the sink connects again, when
// records come, after a delay that doubles from 1 s to 30 s while it fails, then writes them
// in order; the run goes on. A deadlock or a lock wait: the batch is tried again (3 times). A batch
// whose COMMIT was sent when the connection broke may be written twice (at least once). At the end
// it waits up to kCloseWaitS for a server that is away; records still unwritten are reported as
// lost in the summary.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "export/sink.hpp"

namespace etcpipe {

struct MysqlUri {
  std::string user, password, host, database, socket;
  unsigned port = 0;  // 0: the default (3306)
};

// Parses the target of a mysql output: "//USER[:PASSWORD]@HOST[:PORT]/DATABASE[?socket=PATH]"
// (the spec mysql://... split at its first colon), or the same after "mysql:" (-o
// mysql:mysql://...). Parts are percent-decoded; HOST may be an [IPv6 address]; an empty HOST
// with ?socket= is a unix socket; a PORT means TCP, even to localhost. USER ends at the last
// '@' (a PASSWORD may hold '@' and '/'). Without a PASSWORD, the MYSQL_PWD environment variable's.
// Throws std::runtime_error naming the form.
MysqlUri parse_mysql_uri(const std::string& target);

// Connects, creates the tables if absent and starts a run; throws std::runtime_error with the
// server's message (bad login, unknown database, unreachable server), or if this etcpipe was
// built without libmariadb. `name`: the spec, password hidden, for messages.
std::unique_ptr<FlowSink> open_mysql(const MysqlUri& uri, const std::string& name,
                                     const std::string& command);

constexpr std::size_t kBacklogRecords = std::size_t{1} << 18;
constexpr int kCloseWaitS = 5;

}  // namespace etcpipe
