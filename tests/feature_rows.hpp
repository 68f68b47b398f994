// Test helper: a FeatureSink that keeps every finished row, and a printable form of a row
// so that extractors can be compared byte for byte.
#pragma once

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <string>
#include <vector>

#include "features/extractor.hpp"

namespace etcpipe::test {

struct KeptRow {
  FlowInfo info;
  std::vector<uint8_t> matrix;
  std::vector<int32_t> sizes;
  std::vector<float> iats;
  std::vector<uint8_t> flags;
  std::vector<int32_t> payloads;
  std::vector<float> stats;

  // Everything but where it came from (worker and slot depend on the number of workers).
  std::string canonical() const {
    const PacketTuple& t = info.tuple;
    std::string s = fmt::format("{}:{}>{}:{}/{} v{} t{} {} {} n{}|", fmt::join(t.src.b, "."),
                                t.sport, fmt::join(t.dst.b, "."), t.dport, t.proto, t.vlan,
                                int(t.tunnel), info.first_ns, info.last_ns, info.packets);
    auto raw = [&s](const auto& v) {
      s.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(v[0]));
      s.push_back('|');
    };
    raw(matrix);
    raw(sizes);
    raw(iats);
    raw(flags);
    raw(payloads);
    raw(stats);
    return s;
  }
};

class KeepingSink final : public FeatureSink {
 public:
  std::vector<KeptRow> rows;
  void write(const FeatureBatch& b) override {
    for (uint32_t r = 0; r < b.size(); ++r) {
      KeptRow k;
      k.info = b.info(r);
      k.matrix.assign(b.matrix(r), b.matrix(r) + b.row_bytes());
      k.sizes.assign(b.sizes(r), b.sizes(r) + b.n());
      k.iats.assign(b.iats(r), b.iats(r) + b.n());
      k.flags.assign(b.flags(r), b.flags(r) + b.n());
      k.payloads.assign(b.payloads(r), b.payloads(r) + b.n());
      k.stats.assign(b.stats(r), b.stats(r) + kStatCount);
      rows.push_back(std::move(k));
    }
  }
  std::vector<std::string> canonical() const {
    std::vector<std::string> v;
    for (const auto& r : rows) v.push_back(r.canonical());
    std::sort(v.begin(), v.end());
    return v;
  }
};

}  // namespace etcpipe::test
