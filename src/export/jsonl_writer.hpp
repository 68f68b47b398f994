// JSON Lines: one object per flow, fields in the order of record_fields.hpp.
#pragma once

#include <fmt/format.h>

#include <string>

#include "export/sink.hpp"
#include "export/text_output.hpp"

namespace etcpipe {

class JsonlWriter final : public FlowSink {
 public:
  // `path` "-" writes to stdout. Throws std::runtime_error if the file cannot be created.
  // With `verdicts`, the objects end with label, confidence and verdict_latency_ms.
  explicit JsonlWriter(const std::string& path, bool verdicts = false)
      : out_(path), verdicts_(verdicts) {}

  void write(std::span<const FlowRecord> records) override;
  bool format(std::span<const FlowRecord> records, fmt::memory_buffer& out) const override;
  void write_text(std::string_view text) override { out_.write(text); }
  void close() override { out_.close(); }

  // Appends one record's JSON object (no newline) to `out`.
  static void format(const FlowRecord& r, fmt::memory_buffer& out, bool verdicts = false);

 private:
  TextOutput out_;
  bool verdicts_;
};

}  // namespace etcpipe
