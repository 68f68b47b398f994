// Feature rows: one per flow, laid out as the tensors a model reads, struct-of-arrays so
// that a batch of F rows is [F, N, L] bytes, [F, N] sequences and [F, kStatCount] stats.
// The same class holds the rows extractors are filling (a RowPool) and the contiguous
// batches of finished flows they hand on (FeatureBatch).
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "common/zeroed_pages.hpp"
#include "features/spec.hpp"
#include "packet/packet.hpp"

namespace etcpipe {

// Where a row came from: the flow oriented client -> server, and its selected packets.
struct FlowInfo {
  PacketTuple tuple;    // src = client (as the flow table decided), dst = server
  uint64_t first_ns;    // time of the first selected packet
  uint64_t last_ns;     // time of the last selected packet in the row
  uint32_t packets;     // selected packets in the row (<= N)
  uint32_t slot;        // the flow's slot in its worker's table
  uint32_t generation;  // of the slot: (worker, slot, generation) is the flow's identity
  uint16_t worker;
  uint8_t timed_out;  // finished by the row timeout, before its N-th packet or its end
};

class FeatureRows {
 public:
  FeatureRows(const FeatureSpec& spec, uint32_t capacity);

  const FeatureSpec& spec() const { return spec_; }
  uint32_t capacity() const { return capacity_; }
  uint32_t n() const { return spec_.packets; }
  uint32_t row_bytes() const { return spec_.matrix ? spec_.packets * spec_.bytes : 0; }

  // Row r: [N, L] bytes (empty unless spec.matrix), [N] sequences, [kStatCount] stats.
  uint8_t* matrix(uint32_t r) { return matrix_.get() + std::size_t{r} * row_bytes(); }
  const uint8_t* matrix(uint32_t r) const { return matrix_.get() + std::size_t{r} * row_bytes(); }
  int32_t* sizes(uint32_t r) { return sizes_.get() + std::size_t{r} * n(); }
  const int32_t* sizes(uint32_t r) const { return sizes_.get() + std::size_t{r} * n(); }
  float* iats(uint32_t r) { return iats_.get() + std::size_t{r} * n(); }
  const float* iats(uint32_t r) const { return iats_.get() + std::size_t{r} * n(); }
  uint8_t* flags(uint32_t r) { return flags_.get() + std::size_t{r} * n(); }
  const uint8_t* flags(uint32_t r) const { return flags_.get() + std::size_t{r} * n(); }
  int32_t* payloads(uint32_t r) { return payloads_.get() + std::size_t{r} * n(); }
  const int32_t* payloads(uint32_t r) const { return payloads_.get() + std::size_t{r} * n(); }
  float* stats(uint32_t r) { return stats_.get() + std::size_t{r} * kStatCount; }
  const float* stats(uint32_t r) const { return stats_.get() + std::size_t{r} * kStatCount; }
  FlowInfo& info(uint32_t r) { return info_[r]; }
  const FlowInfo& info(uint32_t r) const { return info_[r]; }
  // Row r of `from` (same spec, a finished row: padded, statistics computed) into row `to`.
  void copy_row(uint32_t to, const FeatureRows& from, uint32_t r);

 private:
  FeatureSpec spec_;
  uint32_t capacity_;
  // Reserved pages: a large pool costs address space, not memory, until rows are used.
  ZeroedPages<uint8_t> matrix_;
  ZeroedPages<int32_t> sizes_;
  ZeroedPages<float> iats_;
  ZeroedPages<uint8_t> flags_;
  ZeroedPages<int32_t> payloads_;
  ZeroedPages<float> stats_;
  ZeroedPages<FlowInfo> info_;
};

// Finished flows, rows 0..size()-1: what the dataset writer and the inference engine
// consume. A row is either a copy in the batch's own storage (append) or lent by the
// extractor that filled it (lend: the streaming extractor's rows, finished in place, go to
// the consumer without a copy and back to their pool when the batch comes back).
class FeatureBatch {
 public:
  static constexpr uint32_t kCapacity = 64;
  explicit FeatureBatch(const FeatureSpec& spec) : own_(spec, kCapacity) {}
  const FeatureSpec& spec() const { return own_.spec(); }
  uint32_t n() const { return own_.n(); }
  uint32_t row_bytes() const { return own_.row_bytes(); }
  uint32_t size() const { return size_; }
  bool full() const { return size_ == kCapacity; }
  void clear() { size_ = 0; }
  // Appends a copy of row r of `from` and computes its statistics. Only the row's packets
  // are read: the slots of packets a short flow did not have are padded and zeroed here.
  void append(const FeatureRows& from, uint32_t r);
  // Appends row r of `from` as it is: a finished row (see finish_in_place()) that `from` leaves
  // untouched until the batch is back.
  void lend(const FeatureRows& from, uint32_t r);

  // Where row k is.
  const FeatureRows& rows(uint32_t k) const { return *src_[k]; }
  uint32_t row(uint32_t k) const { return row_[k]; }
  const uint8_t* matrix(uint32_t k) const { return src_[k]->matrix(row_[k]); }
  const int32_t* sizes(uint32_t k) const { return src_[k]->sizes(row_[k]); }
  const float* iats(uint32_t k) const { return src_[k]->iats(row_[k]); }
  const uint8_t* flags(uint32_t k) const { return src_[k]->flags(row_[k]); }
  const int32_t* payloads(uint32_t k) const { return src_[k]->payloads(row_[k]); }
  const float* stats(uint32_t k) const { return src_[k]->stats(row_[k]); }
  const FlowInfo& info(uint32_t k) const { return src_[k]->info(row_[k]); }

 private:
  FeatureRows own_;
  uint32_t size_ = 0;
  std::array<const FeatureRows*, kCapacity> src_{};
  std::array<uint32_t, kCapacity> row_{};
};

// Pads the slots of the packets row r did not get (a short flow) and computes its
// statistics, in place.
void finish_in_place(FeatureRows& rows, uint32_t r);

// The statistics of row r (ETCPIPE_STATS order) from its sequences.
void compute_stats(const FeatureRows& rows, uint32_t r, float* out);

// Rows being filled: released rows on a free list, then rows never used yet, in order, so
// that the memory touched follows the peak number of rows in use, not the capacity (the
// rows' pages are backed on first touch). A row's slots are written as its packets come,
// so rows are not cleared when allocated.
class RowPool {
 public:
  static constexpr uint32_t kNoRow = 0xFFFFFFFF;
  RowPool(const FeatureSpec& spec, uint32_t capacity) : rows_(spec, capacity) {}
  uint32_t alloc() {  // kNoRow when every row is in use
    if (free_.empty()) return fresh_ < rows_.capacity() ? fresh_++ : kNoRow;
    const uint32_t r = free_.back();
    free_.pop_back();
    return r;
  }
  void release(uint32_t r) { free_.push_back(r); }
  FeatureRows& rows() { return rows_; }
  // Free rows, the one alloc() returns next at the back, with at least `want` of them
  // where the pool has that many (the batch extractor takes several at once).
  std::vector<uint32_t>& free_list(uint32_t want);

 private:
  FeatureRows rows_;
  std::vector<uint32_t> free_;
  uint32_t fresh_ = 0;  // rows [fresh_, capacity) were never used
};

}  // namespace etcpipe
