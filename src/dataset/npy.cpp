#include "dataset/npy.hpp"

#include <cerrno>
#include <cstring>
#include <sstream>
#include <stdexcept>

namespace etcpipe {

namespace {
// The header is padded to this size so that rewriting it never moves the data.
constexpr std::size_t kHeaderBytes = 128;

[[noreturn]] void fail(const std::string& path, const char* what) {
  throw std::runtime_error(path + ": cannot " + what + ": " + std::strerror(errno));
}
}  // namespace

NpyWriter::NpyWriter(std::string path, std::string descr, std::vector<uint64_t> shape,
                     std::size_t item_bytes)
    : path_(std::move(path)), descr_(std::move(descr)), shape_(std::move(shape)) {
  row_bytes_ = item_bytes;
  for (uint64_t d : shape_) row_bytes_ *= d;
  f_ = std::fopen(path_.c_str(), "wb");
  if (f_ == nullptr) fail(path_, "create");
  const std::string h = header();
  if (std::fwrite(h.data(), 1, h.size(), f_) != h.size()) fail(path_, "write");
}

NpyWriter::~NpyWriter() {
  if (f_ != nullptr) std::fclose(f_);
}

std::string NpyWriter::header() const {
  std::ostringstream dict;
  dict << "{'descr': '" << descr_ << "', 'fortran_order': False, 'shape': (" << rows_ << ",";
  for (std::size_t i = 0; i < shape_.size(); ++i) dict << (i ? ", " : " ") << shape_[i];
  dict << "), }";
  std::string h("\x93NUMPY\x01\x00  ", 10);  // magic, version, header length (set below)
  h.append(dict.str());
  if (h.size() + 1 > kHeaderBytes) throw std::runtime_error(path_ + ": array shape too long");
  h.resize(kHeaderBytes - 1, ' ');
  h += '\n';
  const auto len = static_cast<uint16_t>(kHeaderBytes - 10);
  h[8] = static_cast<char>(len & 0xFF);
  h[9] = static_cast<char>(len >> 8);
  return h;
}

void NpyWriter::append(const void* data, uint64_t rows) {
  const std::size_t bytes = static_cast<std::size_t>(rows) * row_bytes_;
  if (bytes != 0 && std::fwrite(data, 1, bytes, f_) != bytes) fail(path_, "write");
  rows_ += rows;
}

void NpyWriter::close() {
  if (f_ == nullptr) return;
  const std::string h = header();
  const bool ok =
      std::fseek(f_, 0, SEEK_SET) == 0 && std::fwrite(h.data(), 1, h.size(), f_) == h.size();
  const bool closed = std::fclose(f_) == 0;
  f_ = nullptr;
  if (!ok || !closed) fail(path_, "write");
}

}  // namespace etcpipe
