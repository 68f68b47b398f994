#include "capture/memory_source.hpp"

#include <algorithm>
#include <cstring>

namespace etcpipe {

MemorySource::MemorySource(PacketSource& from) {
  PacketBatch batch;
  while (from.next_batch(batch)) {
    dlt_ = batch.dlt;
    for (uint32_t i = 0; i < batch.size(); ++i) {
      const auto data = batch.bytes(i);
      refs_.push_back({batch.ref(i).ts_ns, nullptr, uint32_t(data.size()), batch.ref(i).wire_len});
      bytes_.insert(bytes_.end(), data.begin(), data.end());
    }
  }
  const uint8_t* at = bytes_.data();  // packed in order: the bytes are final now
  for (PacketRef& r : refs_) {
    r.data = at;
    at += r.caplen;
  }
}

double MemorySource::seconds_after_mark() const {
  return std::chrono::duration<double>(dry_ - marked_).count();
}

uint64_t MemorySource::wire_bytes_after_mark() const {
  uint64_t sum = 0;
  for (uint64_t i = std::min<uint64_t>(mark_, refs_.size()); i < refs_.size(); ++i) {
    sum += refs_[i].wire_len;
  }
  return sum;
}

bool MemorySource::next_batch(PacketBatch& batch) {
  batch.clear();
  batch.dlt = dlt_;
  if (next_ == mark_) marked_ = std::chrono::steady_clock::now();
  if (next_ >= refs_.size()) {
    if (dry_ == std::chrono::steady_clock::time_point{}) dry_ = std::chrono::steady_clock::now();
    return false;
  }
  // Stop at the mark so that the clock starts exactly there.
  const uint64_t end = next_ < mark_ ? std::min<uint64_t>(mark_, refs_.size()) : refs_.size();
  while (!batch.full() && next_ < end) {
    const PacketRef& r = refs_[next_++];
    batch.lend(r);
    ++stats_.packets;
    stats_.bytes += r.wire_len;
  }
  return true;
}

}  // namespace etcpipe
