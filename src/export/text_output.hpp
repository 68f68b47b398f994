// A text file (or stdout for "-") written through a buffer, for the line-based sinks.
#pragma once

#include <fmt/format.h>

#include <cstdio>
#include <string>
#include <string_view>

namespace etcpipe {

class TextOutput {
 public:
  // Throws std::runtime_error if the file cannot be created.
  explicit TextOutput(const std::string& path);
  ~TextOutput();
  TextOutput(const TextOutput&) = delete;
  TextOutput& operator=(const TextOutput&) = delete;

  fmt::memory_buffer& buffer() { return buf_; }
  void flush_if_full() {
    if (buf_.size() >= kFlushBytes) flush_buffer();
  }
  // Writes what is buffered, then `text`.
  void write(std::string_view text);
  // Writes what is buffered; throws std::runtime_error if anything could not be written.
  void close();

 private:
  static constexpr std::size_t kFlushBytes = 1 << 16;
  void flush_buffer();

  std::string path_;
  std::FILE* file_ = nullptr;
  bool owns_file_ = false;
  bool failed_ = false;
  fmt::memory_buffer buf_;
};

// "seconds.nanoseconds" since the epoch.
void append_time(fmt::memory_buffer& out, uint64_t ns);

// Writes `v` in decimal at `p` (at most 20 characters), returns the end. As fmt's "{}".
char* write_decimal(char* p, uint64_t v);
// Writes `ns` as "seconds.nanoseconds" at `p` (at most 30 characters), returns the end.
char* write_time(char* p, uint64_t ns);

}  // namespace etcpipe
