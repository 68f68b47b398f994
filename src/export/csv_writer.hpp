// CSV: a header row, then one row per flow, columns in the order of record_fields.hpp
// (the JSON Lines fields). Values never contain commas or quotes.
#pragma once

#include <string>

#include "export/sink.hpp"
#include "export/text_output.hpp"

namespace etcpipe {

class CsvWriter final : public FlowSink {
 public:
  // `path` "-" writes to stdout. Throws std::runtime_error if the file cannot be created.
  // With `verdicts`, the rows end with label, confidence and verdict_latency_ms.
  explicit CsvWriter(const std::string& path, bool verdicts = false);

  void write(std::span<const FlowRecord> records) override;
  bool format(std::span<const FlowRecord> records, fmt::memory_buffer& out) const override;
  void write_text(std::string_view text) override { out_.write(text); }
  void close() override { out_.close(); }

 private:
  TextOutput out_;
  bool verdicts_;
};

}  // namespace etcpipe
