#include "export/text_output.hpp"

#include <array>
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

void TextOutput::write(std::string_view text) {
  flush_buffer();
  if (!failed_ && std::fwrite(text.data(), 1, text.size(), file_) != text.size()) failed_ = true;
}

void TextOutput::close() {
  flush_buffer();
  if (std::fflush(file_) != 0) failed_ = true;
  if (failed_) throw std::runtime_error(path_ + ": write failed: " + std::strerror(errno));
}

void append_time(fmt::memory_buffer& out, uint64_t ns) {
  char buf[32];
  out.append(buf, write_time(buf, ns));
}

namespace {
// "00" "01" ... "99": two digits per table lookup.
constexpr auto kDigitPairs = [] {
  std::array<char, 200> t{};
  for (int i = 0; i < 100; ++i) {
    t[2 * i] = static_cast<char>('0' + i / 10);
    t[2 * i + 1] = static_cast<char>('0' + i % 10);
  }
  return t;
}();
// 10^i: a number has i + 1 digits or more when it is at least 10^i.
constexpr auto kPowersOf10 = [] {
  std::array<uint64_t, 20> t{};
  t[0] = 1;
  for (std::size_t i = 1; i < t.size(); ++i) t[i] = t[i - 1] * 10;
  return t;
}();
}  // namespace

char* write_decimal(char* p, uint64_t v) {
  // The digits are counted first and written from the last one back, in place.
  std::size_t n = 1;
  while (n < kPowersOf10.size() && v >= kPowersOf10[n]) ++n;
  char* q = p + n;
  while (v >= 100) {
    q -= 2;
    std::memcpy(q, &kDigitPairs[2 * (v % 100)], 2);
    v /= 100;
  }
  if (v >= 10) {
    std::memcpy(q - 2, &kDigitPairs[2 * v], 2);
  } else {
    q[-1] = static_cast<char>('0' + v);
  }
  return p + n;
}

char* write_time(char* p, uint64_t ns) {
  p = write_decimal(p, ns / 1'000'000'000ULL);
  *p++ = '.';
  auto frac = static_cast<uint32_t>(ns % 1'000'000'000ULL);  // nine digits, zero-padded
  for (int i = 8; i >= 1; i -= 2) {
    std::memcpy(p + i - 1, &kDigitPairs[2 * (frac % 100)], 2);
    frac /= 100;
  }
  p[0] = static_cast<char>('0' + frac);
  return p + 9;
}

}  // namespace etcpipe
