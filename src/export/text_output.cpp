#include "export/text_output.hpp"

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace etcpipe {

TextOutput::TextOutput(const std::string& path) : path_(path) {
  if (path == "-") {
    file_ = stdout;
  } else {
    file_ = std::fopen(path.c_str(), "w");
    if (file_ == nullptr) throw std::runtime_error(path + ": " + std::strerror(errno));
    owns_file_ = true;
  }
}

TextOutput::~TextOutput() {
  if (owns_file_ && file_ != nullptr) std::fclose(file_);
}

void TextOutput::flush_buffer() {
  if (!failed_ && std::fwrite(buf_.data(), 1, buf_.size(), file_) != buf_.size()) failed_ = true;
  buf_.clear();
}

void TextOutput::close() {
  flush_buffer();
  if (std::fflush(file_) != 0) failed_ = true;
  if (failed_) throw std::runtime_error(path_ + ": write failed: " + std::strerror(errno));
}

void append_time(fmt::memory_buffer& out, uint64_t ns) {
  fmt::format_to(std::back_inserter(out), "{}.{:09}", ns / 1'000'000'000ULL, ns % 1'000'000'000ULL);
}

}  // namespace etcpipe
