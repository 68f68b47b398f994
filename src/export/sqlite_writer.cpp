#include "export/sqlite_writer.hpp"

#include <sqlite3.h>

#include <ctime>
#include <stdexcept>

#include "common/time.hpp"
#include "export/record_fields.hpp"

namespace etcpipe {
namespace {

// "CREATE TABLE flows (...)" and "INSERT INTO flows VALUES (...)" from the record fields.
struct FlowsSql {
  std::string create =
      "CREATE TABLE IF NOT EXISTS flows (id INTEGER PRIMARY KEY, "
      "run_id INTEGER NOT NULL REFERENCES runs(id)";
  std::string insert = "INSERT INTO flows VALUES (NULL, ?";
  void column(std::string_view name, const char* type) {
    create.append(", ").append(name).append(" ").append(type);
    insert.append(", ?");
  }
  void text(std::string_view n, std::string_view) { column(n, "TEXT"); }
  void number(std::string_view n, uint64_t) { column(n, "INTEGER"); }
  void time(std::string_view n, uint64_t) { column(std::string(n) + "_ns", "INTEGER"); }
  void real(std::string_view n, double) { column(n, "REAL"); }
  void null(std::string_view n) { column(n, "TEXT"); }
};

}  // namespace

void SqliteWriter::CloseDb::operator()(sqlite3* db) const {
  sqlite3_close(db);
}
void SqliteWriter::Finalize::operator()(sqlite3_stmt* s) const {
  sqlite3_finalize(s);
}

SqliteWriter::SqliteWriter(const std::string& path, const std::string& command) : path_(path) {
  sqlite3* db = nullptr;
  const int rc_open = sqlite3_open(path.c_str(), &db);
  db_.reset(db);  // a handle even on failure: it holds the message, and must be closed
  if (rc_open != SQLITE_OK) fail("cannot open");
  sqlite3_busy_timeout(db_.get(), 5000);
  exec("PRAGMA journal_mode=WAL");
  exec("PRAGMA synchronous=NORMAL");
  exec(
      "CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY, started_at TEXT NOT NULL, "
      "finished_at TEXT, command TEXT NOT NULL, statistics TEXT)");
  FlowsSql sql;
  FlowRecord classified;
  classified.label = "";
  visit_record(classified, sql, true);  // the verdict columns stay NULL for unclassified flows
  exec((sql.create + ")").c_str());
  exec("CREATE INDEX IF NOT EXISTS flows_run ON flows(run_id)");
  sqlite3_stmt* run = nullptr;
  if (sqlite3_prepare_v2(db_.get(), "INSERT INTO runs (started_at, command) VALUES (?, ?)", -1,
                         &run, nullptr) != SQLITE_OK) {
    fail("cannot prepare");
  }
  const std::string now = utc_iso8601(std::time(nullptr));
  sqlite3_bind_text(run, 1, now.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(run, 2, command.c_str(), -1, SQLITE_TRANSIENT);
  const int rc = sqlite3_step(run);
  sqlite3_finalize(run);
  if (rc != SQLITE_DONE) fail("cannot start the run");
  run_id_ = sqlite3_last_insert_rowid(db_.get());
  sqlite3_stmt* insert = nullptr;
  const int rc_prepare =
      sqlite3_prepare_v2(db_.get(), (sql.insert + ")").c_str(), -1, &insert, nullptr);
  insert_.reset(insert);
  if (rc_prepare != SQLITE_OK) fail("cannot prepare");
}

SqliteWriter::~SqliteWriter() = default;

void SqliteWriter::fail(const char* what) {
  throw std::runtime_error(path_ + ": " + what + ": " +
                           (db_ ? sqlite3_errmsg(db_.get()) : "no memory"));
}

void SqliteWriter::exec(const char* sql) {
  if (sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr) != SQLITE_OK) fail(sql);
}

void SqliteWriter::write(std::span<const FlowRecord> records) {
  struct Bind {
    sqlite3_stmt* s;
    int i = 2;  // 1 is run_id
    void text(std::string_view, std::string_view v) {
      sqlite3_bind_text(s, i++, v.data(), int(v.size()), SQLITE_TRANSIENT);
    }
    void number(std::string_view, uint64_t v) { sqlite3_bind_int64(s, i++, sqlite3_int64(v)); }
    void time(std::string_view, uint64_t ns) { sqlite3_bind_int64(s, i++, sqlite3_int64(ns)); }
    void real(std::string_view, double v) { sqlite3_bind_double(s, i++, v); }
    void null(std::string_view) { sqlite3_bind_null(s, i++); }
  };
  exec("BEGIN");
  sqlite3_stmt* insert = insert_.get();
  for (const FlowRecord& r : records) {
    sqlite3_bind_int64(insert, 1, run_id_);
    visit_record(r, Bind{insert}, true);
    if (sqlite3_step(insert) != SQLITE_DONE) fail("cannot insert");
    sqlite3_reset(insert);
  }
  exec("COMMIT");
}

void SqliteWriter::close() {
  sqlite3_stmt* done = nullptr;
  if (sqlite3_prepare_v2(db_.get(), "UPDATE runs SET finished_at = ?, statistics = ? WHERE id = ?",
                         -1, &done, nullptr) != SQLITE_OK) {
    fail("cannot prepare");
  }
  const std::string now = utc_iso8601(std::time(nullptr));
  sqlite3_bind_text(done, 1, now.c_str(), -1, SQLITE_TRANSIENT);
  if (stats_.empty()) {
    sqlite3_bind_null(done, 2);
  } else {
    sqlite3_bind_text(done, 2, stats_.c_str(), -1, SQLITE_TRANSIENT);
  }
  sqlite3_bind_int64(done, 3, run_id_);
  const int rc = sqlite3_step(done);
  sqlite3_finalize(done);
  if (rc != SQLITE_DONE) fail("cannot finish the run");
}

}  // namespace etcpipe
