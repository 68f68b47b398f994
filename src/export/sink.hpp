// Where finished flow records go. One virtual call per batch of records.
#pragma once

#include <span>
#include <string>

#include "flow/flow_record.hpp"

namespace etcpipe {

class FlowSink {
 public:
  virtual ~FlowSink() = default;
  virtual void write(std::span<const FlowRecord> records) = 0;
  // The run's end-of-run statistics (a JSON object), once, before close(); sinks that
  // keep them (SQLite) do.
  virtual void summary(const std::string& stats_json) { (void)stats_json; }
  // Flushes buffered output; throws std::runtime_error if it could not be written.
  virtual void close() = 0;
};

}  // namespace etcpipe
