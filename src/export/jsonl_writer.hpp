// JSON Lines: one object per flow, fields in a fixed order (see docs/OUTPUT.md).
#pragma once

#include <fmt/format.h>

#include <cstdio>
#include <string>

#include "export/sink.hpp"

namespace etcpipe {

class JsonlWriter final : public FlowSink {
 public:
  // `path` "-" writes to stdout. Throws std::runtime_error if the file cannot be created.
  explicit JsonlWriter(const std::string& path);
  ~JsonlWriter() override;

  void write(std::span<const FlowRecord> records) override;
  void close() override;

  // Appends one record's JSON object (no newline) to `out`.
  static void format(const FlowRecord& r, fmt::memory_buffer& out);

 private:
  void flush_buffer();

  std::string path_;
  std::FILE* file_ = nullptr;
  bool owns_file_ = false;
  bool failed_ = false;
  fmt::memory_buffer buf_;
};

}  // namespace etcpipe
