#include "features/rows.hpp"

#include <algorithm>
#include <cmath>

namespace etcpipe {

FeatureRows::FeatureRows(const FeatureSpec& spec, uint32_t capacity)
    : spec_(spec),
      capacity_(capacity),
      matrix_(std::size_t{capacity} * row_bytes(), false, "feature rows"),
      sizes_(std::size_t{capacity} * n(), false, "feature rows"),
      iats_(std::size_t{capacity} * n(), false, "feature rows"),
      flags_(std::size_t{capacity} * n(), false, "feature rows"),
      payloads_(std::size_t{capacity} * n(), false, "feature rows"),
      stats_(std::size_t{capacity} * kStatCount, false, "feature rows"),
      info_(capacity, false, "feature rows") {}

namespace {

// Copies the first `used` packet slots of row r of `from` into row `to` of `rows` and pads
// or zeroes the others (to == r and &rows == &from: pads in place).
void pad_row(FeatureRows& rows, uint32_t to, const FeatureRows& from, uint32_t r) {
  const uint32_t n = rows.n();
  const uint32_t used = std::min(from.info(r).packets, n), rest = n - used;
  const std::size_t slot = rows.spec().matrix ? rows.spec().bytes : 0;
  const std::size_t used_bytes = std::size_t{used} * slot;
  if (&rows != &from) {
    std::memcpy(rows.matrix(to), from.matrix(r), used_bytes);
    std::copy_n(from.sizes(r), used, rows.sizes(to));
    std::copy_n(from.iats(r), used, rows.iats(to));
    std::copy_n(from.flags(r), used, rows.flags(to));
    std::copy_n(from.payloads(r), used, rows.payloads(to));
    rows.info(to) = from.info(r);
  }
  std::memset(rows.matrix(to) + used_bytes, rows.spec().pad, rows.row_bytes() - used_bytes);
  std::fill_n(rows.sizes(to) + used, rest, 0);
  std::fill_n(rows.iats(to) + used, rest, 0.0f);
  std::fill_n(rows.flags(to) + used, rest, uint8_t{0});
  std::fill_n(rows.payloads(to) + used, rest, 0);
}

}  // namespace

void FeatureBatch::append(const FeatureRows& from, uint32_t r) {
  const uint32_t k = size_++;
  pad_row(own_, k, from, r);
  compute_stats(from, r, own_.stats(k));
  src_[k] = &own_;
  row_[k] = k;
}

void FeatureBatch::lend(const FeatureRows& from, uint32_t r) {
  const uint32_t k = size_++;
  src_[k] = &from;
  row_[k] = r;
}

void finish_in_place(FeatureRows& rows, uint32_t r) {
  pad_row(rows, r, rows, r);
  compute_stats(rows, r, rows.stats(r));
}

void FeatureRows::copy_row(uint32_t to, const FeatureRows& from, uint32_t r) {
  std::memcpy(matrix(to), from.matrix(r), row_bytes());
  std::copy_n(from.sizes(r), n(), sizes(to));
  std::copy_n(from.iats(r), n(), iats(to));
  std::copy_n(from.flags(r), n(), flags(to));
  std::copy_n(from.payloads(r), n(), payloads(to));
  std::copy_n(from.stats(r), kStatCount, stats(to));
  info(to) = from.info(r);
}

namespace {
// min/mean/max/std (population) of a series, zeros when empty.
struct Moments {
  double min = 0, max = 0, sum = 0, sum2 = 0;
  uint32_t count = 0;
  void add(double x) {
    min = count == 0 ? x : std::min(min, x);
    max = count == 0 ? x : std::max(max, x);
    sum += x;
    sum2 += x * x;
    ++count;
  }
  double mean() const { return count ? sum / count : 0.0; }
  double std() const {
    if (count == 0) return 0.0;
    const double m = mean();
    return std::sqrt(std::max(0.0, sum2 / count - m * m));
  }
};
}  // namespace

void compute_stats(const FeatureRows& rows, uint32_t r, float* out) {
  const uint32_t k = std::min(rows.info(r).packets, rows.n());
  const int32_t* size = rows.sizes(r);
  const float* iat = rows.iats(r);
  const uint8_t* flag = rows.flags(r);
  Moments sizes[3], iats[3];  // all, fwd, bwd
  uint64_t bytes[3] = {};
  double t = 0, last[2] = {-1, -1};  // packet times from the flow's first, per direction
  uint32_t flag_count[8] = {};
  for (uint32_t i = 0; i < k; ++i) {
    t += i == 0 ? 0.0 : double(iat[i]);
    const int d = size[i] >= 0 ? 1 : 2;
    const double len = std::abs(double(size[i]));
    for (int s : {0, d}) {
      sizes[s].add(len);
      bytes[s] += uint64_t(len);
    }
    if (i > 0) iats[0].add(double(iat[i]));
    if (last[d - 1] >= 0) iats[d].add(t - last[d - 1]);
    last[d - 1] = t;
    for (int b = 0; b < 8; ++b) flag_count[b] += (flag[i] >> b) & 1;
  }
  std::size_t o = 0;
  for (int d = 0; d < 3; ++d) {
    const double v[] = {
        double(sizes[d].count), double(bytes[d]), sizes[d].min,   sizes[d].mean(), sizes[d].max,
        sizes[d].std(),         iats[d].min,      iats[d].mean(), iats[d].max,     iats[d].std()};
    for (double x : v) out[o++] = float(x);
  }
  out[o++] = float(t);
  for (uint32_t c : flag_count) out[o++] = float(c);  // FIN SYN RST PSH ACK URG ECE CWR
}

RowPool::RowPool(const FeatureSpec& spec, uint32_t capacity) : rows_(spec, capacity) {
  free_.reserve(capacity);
  for (uint32_t r = capacity; r-- > 0;) free_.push_back(r);
}

uint32_t RowPool::alloc() {
  if (free_.empty()) return kNoRow;
  const uint32_t r = free_.back();
  free_.pop_back();
  return r;
}

}  // namespace etcpipe
