#include "features/rows.hpp"

#include <algorithm>
#include <array>
#include <bit>
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
// Statistics come from branch-free passes over a row's sequences: a packet's direction is
// not predictable, and a branch on it cost more than the arithmetic (bench_features
// BM_Stats).

// a if `take`, else b, with bit masks (the compiler would make a conditional a branch).
double select(bool take, double a, double b) {
  const uint64_t m = 0 - uint64_t{take};
  return std::bit_cast<double>((std::bit_cast<uint64_t>(a) & m) |
                               (std::bit_cast<uint64_t>(b) & ~m));
}

// Writes count, sum (with `totals`), min, mean, max, std (population); zeros when empty.
float* put_moments(float* out, uint32_t count, double sum, double sum2, double min, double max,
                   bool totals) {
  const double mean = count ? sum / count : 0.0;
  if (totals) {
    *out++ = float(count);
    *out++ = float(sum);
  }
  *out++ = float(count ? min : 0.0);
  *out++ = float(mean);
  *out++ = float(count ? max : 0.0);
  *out++ = float(count ? std::sqrt(std::max(0.0, sum2 / count - mean * mean)) : 0.0);
  return out;
}

// Packet sizes one way, in integers: exact, and the sums of both ways are those of all.
struct Sizes {
  uint32_t count = 0, min = UINT32_MAX, max = 0;
  uint64_t sum = 0, sum2 = 0;
  void add_if(bool take, uint32_t x) {
    const uint32_t m = 0 - uint32_t{take};
    count += take;
    min = std::min(min, x | ~m);
    max = std::max(max, x & m);
    sum += x & m;
    sum2 += uint64_t{x & m} * (x & m);
  }
  float* put(float* out, const Sizes* other = nullptr) const {
    Sizes s = *this;
    if (other != nullptr) {
      s.count += other->count;
      s.min = std::min(s.min, other->min);
      s.max = std::max(s.max, other->max);
      s.sum += other->sum;
      s.sum2 += other->sum2;
    }
    return put_moments(out, s.count, double(s.sum), double(s.sum2), s.min, s.max, true);
  }
};

// Gaps between packets (seconds); the count is known from the sizes.
struct Gaps {
  double min = HUGE_VAL, max = -HUGE_VAL, sum = 0, sum2 = 0;
  void add_if(bool take, double x) {
    min = std::min(min, select(take, x, HUGE_VAL));
    max = std::max(max, select(take, x, -HUGE_VAL));
    const double y = select(take, x, 0.0);
    sum += y;
    sum2 += y * y;
  }
  float* put(float* out, uint32_t count) const {
    return put_moments(out, count, sum, sum2, min, max, false);
  }
};

// Four flag bits spread to 16-bit lanes (a row has at most 255 packets): summing these
// counts four flags at once, in registers: no per-flag array for the compiler to convert through
// memory (a load after a run of small stores stalls behind the rows' streaming stores).
constexpr std::array<uint64_t, 16> kNibbleLanes = [] {
  std::array<uint64_t, 16> t{};
  for (uint32_t f = 0; f < 16; ++f) {
    for (uint32_t b = 0; b < 4; ++b) t[f] |= uint64_t{(f >> b) & 1} << (16 * b);
  }
  return t;
}();
}  // namespace

void compute_stats(const FeatureRows& rows, uint32_t r, float* out) {
  const uint32_t k = std::min(rows.info(r).packets, rows.n());
  const int32_t* size = rows.sizes(r);
  const float* iat = rows.iats(r);
  const uint8_t* flag = rows.flags(r);

  Sizes fwd_sizes, bwd_sizes;
  for (uint32_t i = 0; i < k; ++i) {
    const auto len = static_cast<uint32_t>(std::abs(size[i]));
    fwd_sizes.add_if(size[i] >= 0, len);
    bwd_sizes.add_if(size[i] < 0, len);
  }

  // Packet times from the flow's first; a gap one way is from the last packet that way.
  Gaps all, fwd, bwd;
  double t = 0, last_fwd = -1, last_bwd = -1;
  for (uint32_t i = 0; i < k; ++i) {
    const bool is_fwd = size[i] >= 0;
    const double gap = select(i > 0, double(iat[i]), 0.0);
    t += gap;
    all.add_if(i > 0, gap);
    fwd.add_if(is_fwd & (last_fwd >= 0), t - last_fwd);
    bwd.add_if(!is_fwd & (last_bwd >= 0), t - last_bwd);
    last_fwd = select(is_fwd, t, last_fwd);
    last_bwd = select(is_fwd, last_bwd, t);
  }
  const auto gaps = [](uint32_t packets) { return packets > 0 ? packets - 1 : 0; };

  out = fwd_sizes.put(out, &bwd_sizes);
  out = all.put(out, gaps(k));
  out = fwd_sizes.put(out);
  out = fwd.put(out, gaps(fwd_sizes.count));
  out = bwd_sizes.put(out);
  out = bwd.put(out, gaps(bwd_sizes.count));
  *out++ = float(t);

  uint64_t low = 0, high = 0;  // FIN SYN RST PSH, ACK URG ECE CWR
  for (uint32_t i = 0; i < k; ++i) {
    low += kNibbleLanes[flag[i] & 15];
    high += kNibbleLanes[flag[i] >> 4];
  }
  for (const uint64_t lanes : {low, high}) {
    for (uint32_t b = 0; b < 4; ++b) *out++ = float((lanes >> (16 * b)) & 0xFFFF);
  }
}

std::vector<uint32_t>& RowPool::free_list(uint32_t want) {
  if (free_.size() < want) {
    // Fresh rows go under the free ones, the lowest taken first.
    const uint32_t add =
        std::min<uint32_t>(want - uint32_t(free_.size()), rows_.capacity() - fresh_);
    free_.insert(free_.begin(), add, 0);
    for (uint32_t i = 0; i < add; ++i) free_[add - 1 - i] = fresh_ + i;
    fresh_ += add;
  }
  return free_;
}

}  // namespace etcpipe
