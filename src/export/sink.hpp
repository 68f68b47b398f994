// Where finished flow records go. One virtual call per batch of records.
#pragma once

#include <fmt/format.h>

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "flow/flow_record.hpp"

namespace etcpipe {

class FlowSink {
 public:
  virtual ~FlowSink() = default;
  virtual void write(std::span<const FlowRecord> records) = 0;
  // A sink whose output is text made from each record alone (JSON Lines, CSV) lets another
  // thread make that text: format() appends the records' text to `out` and returns true,
  // reading nothing that write() changes, and write_text() writes it as write() would have.
  // Other sinks return false.
  virtual bool format(std::span<const FlowRecord> records, fmt::memory_buffer& out) const {
    (void)records;
    (void)out;
    return false;
  }
  virtual void write_text(std::string_view text) { (void)text; }
  // The run's end-of-run statistics (a JSON object), once, before close(); sinks that
  // keep them (SQLite) do.
  virtual void summary(const std::string& stats_json) { (void)stats_json; }
  // Flushes buffered output; throws std::runtime_error if it could not be written.
  virtual void close() = 0;

  // After close(): what a sink that talks to a server tells the end summary (records sent,
  // lost, reconnections), one line each, with `loss` set when records were lost (said even
  // with --quiet).
  struct Report {
    std::string line;
    bool loss = false;
  };
  virtual void report(std::vector<Report>& out) const { (void)out; }
};

// Discards records: runs that want rows (extract) or figures (bench), not records.
class NullSink final : public FlowSink {
 public:
  void write(std::span<const FlowRecord>) override {}
  void close() override {}
};

}  // namespace etcpipe
