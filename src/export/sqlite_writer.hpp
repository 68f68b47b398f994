// SQLite, the embedded default database. Schema (created if absent, so runs accumulate):
//   runs(id, started_at, finished_at, command, statistics)
//     started_at/finished_at: ISO 8601 UTC; finished_at is NULL for a run that was killed;
//     statistics: the end-of-run statistics as JSON (the --stats-json object).
//   flows(id, run_id, <the record fields of record_fields.hpp>, label, confidence)
//     text fields as TEXT, numbers as INTEGER, times as INTEGER nanoseconds (first_ts_ns,
//     last_ts_ns); label and confidence are NULL until flows are classified.
// WAL journal; each batch of records is one transaction, so a run killed at any moment
// leaves a database that opens and holds every batch committed before.
#pragma once

#include <memory>
#include <string>

#include "export/sink.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace etcpipe {

class SqliteWriter final : public FlowSink {
 public:
  // Opens or creates `path` and starts a run. Throws std::runtime_error with SQLite's message.
  SqliteWriter(const std::string& path, const std::string& command);
  ~SqliteWriter() override;

  void write(std::span<const FlowRecord> records) override;
  void summary(const std::string& stats_json) override { stats_ = stats_json; }
  void close() override;

 private:
  void exec(const char* sql);
  [[noreturn]] void fail(const char* what);

  struct CloseDb {
    void operator()(sqlite3* db) const;
  };
  struct Finalize {
    void operator()(sqlite3_stmt* s) const;
  };

  std::string path_;
  std::unique_ptr<sqlite3, CloseDb> db_;  // members: released even if the constructor throws
  std::unique_ptr<sqlite3_stmt, Finalize> insert_;
  long long run_id_ = 0;
  std::string stats_;
};

}  // namespace etcpipe
