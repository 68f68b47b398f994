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
  explicit JsonlWriter(const std::string& path) : out_(path) {}

  void write(std::span<const FlowRecord> records) override;
  void close() override { out_.close(); }

  // Appends one record's JSON object (no newline) to `out`.
  static void format(const FlowRecord& r, fmt::memory_buffer& out);

 private:
  TextOutput out_;
};

}  // namespace etcpipe
