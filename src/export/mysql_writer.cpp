#include "export/mysql_writer.hpp"

#include <errmsg.h>
#include <fmt/format.h>
#include <mysql.h>
#include <mysqld_error.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <stdexcept>
#include <thread>
#include <vector>

#include "export/record_fields.hpp"

namespace etcpipe {
namespace {

using Clock = std::chrono::steady_clock;
constexpr unsigned kTimeoutS = 5;  // connect, read and write: a server that hangs is a lost one
constexpr std::size_t kRowsPerInsert = 512;
constexpr std::size_t kRecordsPerTransaction = 1024;
constexpr std::chrono::seconds kFirstRetry{1}, kLastRetry{30};
constexpr int kTransientRetries = 3;

// What an error says of the server: away (the connection is gone, or the server takes no
// writes; it may come back), busy (a deadlock or a lock wait: the batch is tried again), or
// neither (the statement is wrong: the output fails).
enum class Trouble : uint8_t { Away, Busy, Fatal };
Trouble trouble(unsigned error) {
  switch (error) {
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_LOST:
    case CR_SERVER_LOST_EXTENDED:
    case ER_SERVER_SHUTDOWN:
    case ER_CONNECTION_KILLED:
    case ER_OPTION_PREVENTS_STATEMENT:  // --read-only: a replica, a failover under way
      return Trouble::Away;
    case ER_LOCK_WAIT_TIMEOUT:
    case ER_LOCK_DEADLOCK: return Trouble::Busy;
    default: return Trouble::Fatal;
  }
}

// The column definitions and the column list of flows, from the record fields.
struct FlowsColumns {
  std::string create =
      "CREATE TABLE IF NOT EXISTS flows (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, "
      "run_id BIGINT UNSIGNED NOT NULL";
  std::string names = "run_id";
  void column(std::string_view name, std::string_view type) {
    fmt::format_to(std::back_inserter(create), ", {} {}", name, type);
    fmt::format_to(std::back_inserter(names), ", {}", name);
  }
  void text(std::string_view n, std::string_view) {
    column(n, n.ends_with("_ip") ? "VARCHAR(45) NOT NULL" : "VARCHAR(255) NULL");
  }
  void number(std::string_view n, uint64_t) { column(n, "BIGINT UNSIGNED NOT NULL"); }
  void time(std::string_view n, uint64_t) {
    column(n, "DATETIME(6) NOT NULL");
    column(std::string(n) + "_ns", "BIGINT UNSIGNED NOT NULL");
  }
  void real(std::string_view n, double) { column(n, "DOUBLE NULL"); }
  void null(std::string_view n) { column(n, "VARCHAR(255) NULL"); }
};

class MysqlWriter final : public FlowSink {
 public:
  MysqlWriter(const MysqlUri& uri, const std::string& name, const std::string& command)
      : uri_(uri), name_(name) {
    if (!connect()) throw std::runtime_error(name_ + ": cannot connect: " + error_);
    try {
      create_run(command);
    } catch (...) {
      disconnect();
      throw;
    }
  }
  ~MysqlWriter() override { disconnect(); }

  void write(std::span<const FlowRecord> records) override {
    const std::size_t room = kBacklogRecords - (backlog_.size() - head_);
    const std::size_t kept = std::min(room, records.size());
    backlog_.insert(backlog_.end(), records.begin(), records.begin() + std::ptrdiff_t(kept));
    lost_ += records.size() - kept;
    flush(false);
  }

  void summary(const std::string& stats_json) override { stats_ = stats_json; }

  void close() override {
    const auto deadline = Clock::now() + std::chrono::seconds(kCloseWaitS);
    while (flush(true) != 0 && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    lost_ += backlog_.size() - head_;
    backlog_.clear();
    head_ = 0;
    if (db_ == nullptr) return;  // the run's row keeps finished_at NULL, as a killed run's
    std::string done = "UPDATE runs SET finished_at = UTC_TIMESTAMP(6), statistics = ";
    if (stats_.empty()) {
      done += "NULL";
    } else {
      quote(stats_, done);
    }
    fmt::format_to(std::back_inserter(done), " WHERE id = {}", run_id_);
    // A connection left idle may have been dropped (a server restarted meanwhile): once more.
    if (!query(done)) {
      if (trouble(mysql_errno(db_)) == Trouble::Fatal) fatal();
      disconnect();
      if (connect() && !query(done) && trouble(mysql_errno(db_)) == Trouble::Fatal) fatal();
    }
    disconnect();
  }

  void report(std::vector<Report>& out) const override {
    std::string line = fmt::format("mysql: {} records written (run {})", written_, run_id_);
    if (reconnects_ != 0) line += fmt::format(", {} reconnections", reconnects_);
    if (lost_ != 0) line += fmt::format(", {} lost (server away: {})", lost_, error_);
    out.push_back({std::move(line), lost_ != 0});
  }

 private:
  void create_run(const std::string& command) {
    fatal_unless(query(
        "CREATE TABLE IF NOT EXISTS runs (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY "
        "KEY, started_at DATETIME(6) NOT NULL, finished_at DATETIME(6) NULL, command MEDIUMTEXT "
        "NOT NULL, statistics JSON NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"));
    FlowsColumns columns;
    FlowRecord classified;
    classified.label = "";
    visit_record(classified, columns, true);  // the verdict columns stay NULL when unclassified
    fatal_unless(query(columns.create +
                       ", INDEX flows_run (run_id), INDEX flows_time (first_ts), INDEX "
                       "flows_tuple (src_ip, dst_ip, src_port, dst_port, proto), FOREIGN KEY "
                       "(run_id) REFERENCES runs(id)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"));
    insert_head_ = "INSERT INTO flows (" + columns.names + ") VALUES ";
    std::string start = "INSERT INTO runs (started_at, command) VALUES (UTC_TIMESTAMP(6), ";
    quote(command, start);
    fatal_unless(query(start + ")"));
    run_id_ = mysql_insert_id(db_);
  }

  bool connect() {
    db_ = mysql_init(nullptr);
    if (db_ == nullptr) throw std::bad_alloc();
    const unsigned timeout = kTimeoutS;
    mysql_options(db_, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_options(db_, MYSQL_OPT_READ_TIMEOUT, &timeout);
    mysql_options(db_, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
    mysql_options(db_, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (uri_.socket.empty() && uri_.port != 0) {  // localhost:PORT is that port, not the socket
      const unsigned tcp = MYSQL_PROTOCOL_TCP;
      mysql_options(db_, MYSQL_OPT_PROTOCOL, &tcp);
    }
    auto c_str = [](const std::string& s) { return s.empty() ? nullptr : s.c_str(); };
    if (mysql_real_connect(db_, c_str(uri_.host), uri_.user.c_str(), c_str(uri_.password),
                           uri_.database.c_str(), uri_.port, c_str(uri_.socket), 0) == nullptr) {
      error_ = mysql_error(db_);
      disconnect();
      return false;
    }
    return true;
  }

  void disconnect() {
    if (db_ != nullptr) mysql_close(db_);
    db_ = nullptr;
  }

  bool query(const std::string& sql) {
    if (mysql_real_query(db_, sql.data(), sql.size()) == 0) return true;
    error_ = mysql_error(db_);
    return false;
  }

  [[noreturn]] void fatal() { throw std::runtime_error(name_ + ": " + error_); }
  void fatal_unless(bool ok) {
    if (!ok) fatal();
  }

  // Appends 'text', escaped for the connection's character set.
  void quote(std::string_view text, std::string& sql) {
    escaped_.resize(text.size() * 2 + 1);
    const unsigned long n = mysql_real_escape_string(db_, escaped_.data(), text.data(),
                                                     static_cast<unsigned long>(text.size()));
    sql += '\'';
    sql.append(escaped_.data(), n);
    sql += '\'';
  }

  // Writes what the backlog holds, a transaction per kRecordsPerTransaction records; returns
  // how many records are left (the server is away). While it is away, connects again after
  // a delay that doubles from kFirstRetry to kLastRetry, or at once with `force` (the end).
  std::size_t flush(bool force) {
    bool retried = false;  // one lost connection is tried again at once: a server restarted
    int busy = 0;          // deadlocks and lock waits met by this batch
    while (head_ < backlog_.size()) {
      if (db_ == nullptr) {
        if (Clock::now() < retry_at_ && !retried && !force) break;
        const bool connected = connect();
        retry_at_ = Clock::now() + retry_delay_;  // from the end of the attempt, which may block
        if (!connected) {
          retry_delay_ = std::min(retry_delay_ * 2, std::chrono::seconds(kLastRetry));
          break;
        }
        retry_delay_ = kFirstRetry;
        ++reconnects_;
      }
      const std::size_t n = std::min(backlog_.size() - head_, kRecordsPerTransaction);
      if (!insert(std::span(backlog_).subspan(head_, n))) {
        const Trouble t = trouble(mysql_errno(db_));
        if (t == Trouble::Fatal || (t == Trouble::Busy && ++busy > kTransientRetries)) fatal();
        if (t == Trouble::Busy) {
          query("ROLLBACK");
          continue;
        }
        disconnect();
        if (retried) break;
        retried = true;
        continue;
      }
      head_ += n;
      written_ += n;
      busy = 0;
    }
    const std::size_t left = backlog_.size() - head_;
    if (left == 0 || head_ > backlog_.size() / 2) {  // committed records go, now and then
      backlog_.erase(backlog_.begin(), backlog_.begin() + std::ptrdiff_t(head_));
      head_ = 0;
    }
    return left;
  }

  bool insert(std::span<const FlowRecord> records) {
    if (!query("START TRANSACTION")) return false;
    while (!records.empty()) {
      const std::size_t n = std::min(records.size(), kRowsPerInsert);
      sql_ = insert_head_;
      for (std::size_t i = 0; i < n; ++i) {
        fmt::format_to(std::back_inserter(sql_), "{}({}", i == 0 ? "" : ",", run_id_);
        visit_record(records[i], Values{*this}, true);
        sql_ += ')';
      }
      if (!query(sql_)) return false;
      records = records.subspan(n);
    }
    return query("COMMIT");
  }

  // One record's values, after the run id, in the order of FlowsColumns.
  struct Values {
    MysqlWriter& w;
    void text(std::string_view, std::string_view v) {
      w.sql_ += ',';
      w.quote(v, w.sql_);
    }
    void number(std::string_view, uint64_t v) {
      fmt::format_to(std::back_inserter(w.sql_), ",{}", v);
    }
    void time(std::string_view, uint64_t ns) {
      const std::time_t s = static_cast<std::time_t>(ns / 1'000'000'000);
      std::tm tm{};
      gmtime_r(&s, &tm);
      fmt::format_to(std::back_inserter(w.sql_), ",'{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}',{}",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ns % 1'000'000'000 / 1000, ns);
    }
    void real(std::string_view, double v) {
      if (std::isfinite(v)) {
        fmt::format_to(std::back_inserter(w.sql_), ",{}", v);
      } else {
        w.sql_ += ",NULL";
      }
    }
    void null(std::string_view) { w.sql_ += ",NULL"; }
  };

  MysqlUri uri_;
  std::string name_;
  MYSQL* db_ = nullptr;  // null while the server is away
  uint64_t run_id_ = 0;
  std::string insert_head_, sql_, escaped_, stats_;
  std::string error_;                // the server's or the client's last message
  std::vector<FlowRecord> backlog_;  // records not yet committed, from head_ on
  std::size_t head_ = 0;
  Clock::time_point retry_at_{};
  std::chrono::seconds retry_delay_ = kFirstRetry;
  uint64_t written_ = 0, lost_ = 0, reconnects_ = 0;
};

}  // namespace

std::unique_ptr<FlowSink> open_mysql(const MysqlUri& uri, const std::string& name,
                                     const std::string& command) {
  return std::make_unique<MysqlWriter>(uri, name, command);
}

}  // namespace etcpipe
