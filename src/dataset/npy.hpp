// NumPy .npy files (format 1.0) written in a stream: rows are appended as they come and
// the leading dimension is filled in by close(). numpy.load reads them as they are.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace etcpipe {

class NpyWriter {
 public:
  // descr: NumPy type string ("|u1", "<i4", "<f4"); shape: dimensions after the first.
  NpyWriter(std::string path, std::string descr, std::vector<uint64_t> shape,
            std::size_t item_bytes);
  ~NpyWriter();
  NpyWriter(const NpyWriter&) = delete;
  NpyWriter& operator=(const NpyWriter&) = delete;

  // Appends `rows` rows of prod(shape) items each.
  void append(const void* data, uint64_t rows);
  uint64_t rows() const { return rows_; }
  // Writes the final header and closes; throws std::runtime_error on a write error.
  void close();

 private:
  std::string header() const;

  std::string path_;
  std::string descr_;
  std::vector<uint64_t> shape_;
  std::size_t row_bytes_;
  std::FILE* f_ = nullptr;
  uint64_t rows_ = 0;
};

}  // namespace etcpipe
