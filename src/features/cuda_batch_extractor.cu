#include <cuda_runtime.h>
#include <thrust/system/cuda/execution_policy.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "features/batch_algorithm.hpp"
#include "features/cuda_batch_extractor.hpp"

namespace etcpipe {
namespace {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    throw std::runtime_error(std::string("CUDA ") + what + ": " + cudaGetErrorString(e));
  }
}

template <class T>
T* device_array(std::size_t n) {
  void* p = nullptr;
  check(cudaMalloc(&p, std::max<std::size_t>(n, 1) * sizeof(T)), "cudaMalloc");
  return static_cast<T*>(p);
}

template <class T>
T* pinned_array(std::size_t n) {
  void* p = nullptr;
  check(cudaMallocHost(&p, std::max<std::size_t>(n, 1) * sizeof(T)), "cudaMallocHost");
  return static_cast<T*>(p);
}

// Thrust's temporary storage from one device buffer allocated up front, reset for each
// launch: a bump pointer.
class ArenaAllocator {
 public:
  using value_type = char;
  ArenaAllocator(char* base, std::size_t size, std::size_t* top)
      : base_(base), size_(size), top_(top) {}
  char* allocate(std::ptrdiff_t n) {
    const std::size_t bytes = rounded(std::size_t(n));
    if (*top_ + bytes > size_) throw std::runtime_error("CUDA scratch arena too small");
    char* p = base_ + *top_;
    *top_ += bytes;
    return p;
  }
  // Only the latest block steps the pointer back: a block freed under a live one (the order
  // of Thrust's allocations depends on the algorithm it picks for the size) stays taken
  // until the arena is reset for the next launch.
  void deallocate(char* p, std::size_t n) {
    if (p + rounded(n) == base_ + *top_) *top_ = std::size_t(p - base_);
  }

 private:
  static std::size_t rounded(std::size_t n) { return (n + 255) & ~std::size_t{255}; }
  char* base_;
  std::size_t size_;
  std::size_t* top_;
};

constexpr std::size_t kArenaBytes = 64u << 20;
// Selected packets per device launch: the selected batches of every worker are staged until
// this many are there (or finish()), since a launch costs a dozen kernels and two stream
// synchronizations whatever its size.
constexpr uint32_t kItems = 64 * SelectedBatch::kCapacity;
// Completed rows gathered into contiguous device memory and copied back at once.
constexpr uint32_t kChunkRows = 1024;

// Copies rows ids[0, k) of `from` to rows 0..k-1 of `to`, padded as the host pads a row
// (packet slots past its packets: `pad` bytes, zero sequences): one block a row, its threads
// striding over the row's bytes and packets.
__global__ void gather_rows(RowsView from, RowsView to, const uint32_t* ids, uint8_t pad) {
  const uint32_t dst = blockIdx.x, src = ids[dst];
  const uint32_t used = min(from.info[src].packets, from.n);
  const uint32_t used_bytes = used * (from.row_bytes / from.n);
  for (uint32_t i = threadIdx.x; i < from.row_bytes; i += blockDim.x) {
    to.matrix[std::size_t{dst} * to.row_bytes + i] =
        i < used_bytes ? from.matrix[std::size_t{src} * from.row_bytes + i] : pad;
  }
  for (uint32_t i = threadIdx.x; i < from.n; i += blockDim.x) {
    const std::size_t a = std::size_t{dst} * from.n + i, b = std::size_t{src} * from.n + i;
    const bool in = i < used;
    to.sizes[a] = in ? from.sizes[b] : 0;
    to.iats[a] = in ? from.iats[b] : 0.0f;
    to.flags[a] = in ? from.flags[b] : 0;
    to.payloads[a] = in ? from.payloads[b] : 0;
  }
  if (threadIdx.x == 0) to.info[dst] = from.info[src];
}

RowsView device_rows(const FeatureSpec& spec, uint32_t rows) {
  const uint32_t n = spec.packets;
  const uint32_t row_bytes = spec.matrix ? n * spec.bytes : 0;
  return {device_array<uint8_t>(std::size_t{rows} * row_bytes),
          device_array<int32_t>(std::size_t{rows} * n),
          device_array<float>(std::size_t{rows} * n),
          device_array<uint8_t>(std::size_t{rows} * n),
          device_array<int32_t>(std::size_t{rows} * n),
          device_array<FlowInfo>(rows),
          n,
          spec.bytes,
          row_bytes};
}

void free_rows(const RowsView& v) {
  for (void* p :
       {static_cast<void*>(v.matrix), static_cast<void*>(v.sizes), static_cast<void*>(v.iats),
        static_cast<void*>(v.flags), static_cast<void*>(v.payloads), static_cast<void*>(v.info)}) {
    if (p != nullptr) cudaFree(p);
  }
}

}  // namespace

struct CudaBatchExtractor::Device {
  cudaStream_t stream = nullptr;
  // Host staging (pinned) and its device copy.
  SelectedPacket* host_items = nullptr;
  SelectedPacket* items = nullptr;
  uint8_t* host_arena = nullptr;
  uint8_t* arena = nullptr;
  std::size_t arena_bytes = 0;
  uint32_t* host_free = nullptr;
  uint32_t* free_stack = nullptr;
  uint32_t* host_out = nullptr;  // need, alloc at n-1, then done_row, written, late
  uint32_t* host_ids = nullptr;  // the completed rows of a chunk
  uint32_t* ids = nullptr;
  // Per-flow state, rows, completed rows gathered for the copy back, scratch.
  uint16_t* count = nullptr;
  uint32_t* row = nullptr;
  uint64_t* key = nullptr;
  uint32_t* per_item = nullptr;
  RowsView rows{};
  RowsView done{};
  char* scratch_arena = nullptr;
  std::size_t scratch_top = 0;

  batch::Scratch scratch() const { return batch::scratch_layout(key, per_item, kItems); }

  ~Device() {
    free_rows(rows);
    free_rows(done);
    for (void* p : {static_cast<void*>(items), static_cast<void*>(arena),
                    static_cast<void*>(free_stack), static_cast<void*>(ids),
                    static_cast<void*>(count), static_cast<void*>(row), static_cast<void*>(key),
                    static_cast<void*>(per_item), static_cast<void*>(scratch_arena)}) {
      if (p != nullptr) cudaFree(p);
    }
    for (void* p : {static_cast<void*>(host_items), static_cast<void*>(host_arena),
                    static_cast<void*>(host_free), static_cast<void*>(host_out),
                    static_cast<void*>(host_ids)}) {
      if (p != nullptr) cudaFreeHost(p);
    }
    if (stream != nullptr) cudaStreamDestroy(stream);
  }
};

bool CudaBatchExtractor::available() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

CudaBatchExtractor::CudaBatchExtractor(const FeatureSpec& spec, uint32_t rows, unsigned workers,
                                       uint32_t slots, FeatureOutput& out)
    : spec_(spec),
      out_(out),
      slots_(slots),
      d_(std::make_unique<Device>()),
      staging_(spec, kChunkRows) {
  Device& d = *d_;
  check(cudaStreamCreateWithFlags(&d.stream, cudaStreamNonBlocking), "stream");
  const std::size_t flows = std::size_t{workers} * (std::size_t{slots} + 1);
  d.count = device_array<uint16_t>(flows);
  d.row = device_array<uint32_t>(flows);
  check(cudaMemset(d.count, 0, flows * sizeof(uint16_t)), "memset");
  check(cudaMemset(d.row, 0xFF, flows * sizeof(uint32_t)), "memset");  // kNoRow
  d.key = device_array<uint64_t>(kItems);
  d.per_item = device_array<uint32_t>(batch::kScratchArrays * kItems);
  d.items = device_array<SelectedPacket>(kItems);
  d.host_items = pinned_array<SelectedPacket>(kItems);
  d.free_stack = device_array<uint32_t>(kItems);
  d.host_free = pinned_array<uint32_t>(kItems);
  d.host_out = pinned_array<uint32_t>(2 + 3 * kItems);
  d.ids = device_array<uint32_t>(kChunkRows);
  d.host_ids = pinned_array<uint32_t>(kChunkRows);
  d.rows = device_rows(spec, rows);
  d.done = device_rows(spec, kChunkRows);
  d.scratch_arena = device_array<char>(kArenaBytes);
  free_.reserve(rows);
  for (uint32_t r = rows; r-- > 0;) free_.push_back(r);
}

CudaBatchExtractor::~CudaBatchExtractor() = default;

void CudaBatchExtractor::add(const SelectedBatch& b) {
  const uint32_t n = b.size();
  if (n == 0) return;
  Device& d = *d_;
  const std::size_t bytes = std::size_t{n} * b.snaplen();
  if (d.arena == nullptr) {  // the first batch sizes the byte buffers (snaplen is fixed)
    d.arena_bytes = std::size_t{kItems} * b.snaplen();
    d.arena = device_array<uint8_t>(d.arena_bytes);
    d.host_arena = pinned_array<uint8_t>(d.arena_bytes);
  }
  // A launch frees its completed rows only at its end: it may stage no more new flows (a
  // flow's first selected packet takes a row) than there are free rows.
  uint32_t starts = 0;
  for (uint32_t i = 0; i < n; ++i) starts += !b.packet(i).end && b.packet(i).rank == 0;
  if (staged_ + n > kItems || staged_bytes_ + bytes > d.arena_bytes ||
      staged_starts_ + starts > free_.size()) {
    launch();
  }
  // Staged with flow ids across workers (worker * (slots + 1) + slot) and offsets into the
  // staged bytes; the rows' worker and slot are restored when they come back.
  SelectedPacket* to = d.host_items + staged_;
  std::memcpy(to, &b.packet(0), n * sizeof(SelectedPacket));
  const uint32_t base = uint32_t{b.worker} * (slots_ + 1);
  for (uint32_t i = 0; i < n; ++i) {
    to[i].slot += base;
    to[i].offset += uint32_t(staged_bytes_);
  }
  std::memcpy(d.host_arena + staged_bytes_, b.arena(), bytes);
  staged_ += n;
  staged_starts_ += starts;
  staged_bytes_ += bytes;
  if (staged_ == kItems) launch();
}

void CudaBatchExtractor::finish() {
  launch();
  out_.hand_over();
}

void CudaBatchExtractor::launch() {
  const uint32_t n = staged_;
  if (n == 0) return;
  Device& d = *d_;
  const auto m = static_cast<uint32_t>(std::min<std::size_t>(n, free_.size()));
  std::copy(free_.end() - m, free_.end(), d.host_free);  // the top m rows, order kept
  check(cudaMemcpyAsync(d.items, d.host_items, n * sizeof(SelectedPacket), cudaMemcpyHostToDevice,
                        d.stream),
        "copy");
  check(cudaMemcpyAsync(d.arena, d.host_arena, staged_bytes_, cudaMemcpyHostToDevice, d.stream),
        "copy");
  check(cudaMemcpyAsync(d.free_stack, d.host_free, m * sizeof(uint32_t), cudaMemcpyHostToDevice,
                        d.stream),
        "copy");

  const batch::Items in{d.items, d.arena, n, 0, 0};
  const batch::FlowState st{d.count, d.row};
  const batch::Scratch s = d.scratch();
  d.scratch_top = 0;
  ArenaAllocator alloc(d.scratch_arena, kArenaBytes, &d.scratch_top);
  batch::extract_batch(thrust::cuda::par(alloc).on(d.stream), in, st, s, batch::Rows{d.rows, spec_},
                       d.free_stack, m);

  uint32_t* h = d.host_out;
  check(cudaMemcpyAsync(h, s.need + n - 1, 4, cudaMemcpyDeviceToHost, d.stream), "copy");
  check(cudaMemcpyAsync(h + 1, s.alloc + n - 1, 4, cudaMemcpyDeviceToHost, d.stream), "copy");
  check(cudaMemcpyAsync(h + 2, s.done_row, 3 * std::size_t{kItems} * 4, cudaMemcpyDeviceToHost,
                        d.stream),
        "copy");  // done_row, written, late are consecutive scratch arrays
  check(cudaStreamSynchronize(d.stream), "batch");
  staged_ = 0;
  staged_starts_ = 0;
  staged_bytes_ = 0;

  const uint32_t needed = h[0] + h[1], taken = std::min(needed, m);
  free_.resize(free_.size() - taken);
  stats_.rows_full += needed - taken;
  const uint32_t* done = h + 2;
  const uint32_t* written = done + kItems;
  const uint32_t* late = written + kItems;
  uint32_t k = 0;
  for (uint32_t j = 0; j < n; ++j) {
    stats_.packets += written[j];
    stats_.late += late[j];
    if (done[j] == batch::kNoRow) continue;
    d.host_ids[k++] = done[j];
    if (k == kChunkRows) {
      copy_back(k);
      k = 0;
    }
  }
  copy_back(k);
}

void CudaBatchExtractor::restore_flow(FlowInfo& info) const {
  info.worker = uint16_t(info.slot / (slots_ + 1));
  info.slot %= slots_ + 1;
}

// Rows d.host_ids[0, k) of the device rows: gathered on the device, then handed to the
// device consumer, or copied back in one copy per array and emitted; then returned to the
// free rows.
void CudaBatchExtractor::copy_back(uint32_t k) {
  if (k == 0) return;
  Device& d = *d_;
  check(cudaMemcpyAsync(d.ids, d.host_ids, k * sizeof(uint32_t), cudaMemcpyHostToDevice, d.stream),
        "copy");
  gather_rows<<<k, 256, 0, d.stream>>>(d.rows, d.done, d.ids, spec_.pad);
  check(cudaGetLastError(), "gather");
  const RowsView host = view_of(staging_);
  const RowsView& dev = d.done;
  auto back = [&](auto* dst, const auto* src, std::size_t per_row) {
    check(cudaMemcpyAsync(dst, src, k * per_row * sizeof(*src), cudaMemcpyDeviceToHost, d.stream),
          "copy");
  };
  if (!device_rows_) {
    back(host.matrix, dev.matrix, dev.row_bytes);
    back(host.sizes, dev.sizes, dev.n);
    back(host.iats, dev.iats, dev.n);
    back(host.flags, dev.flags, dev.n);
    back(host.payloads, dev.payloads, dev.n);
  }
  back(host.info, dev.info, 1);  // with a device consumer, only the flows' identities
  check(cudaStreamSynchronize(d.stream), "rows");
  for (uint32_t i = 0; i < k; ++i) restore_flow(staging_.info(i));
  if (device_rows_) {
    device_rows_(dev, host.info, k);
    stats_.flows += k;
  } else {
    for (uint32_t i = 0; i < k; ++i) emit_row(out_, staging_, i, stats_);
  }
  for (uint32_t i = 0; i < k; ++i) free_.push_back(d.host_ids[i]);
}

}  // namespace etcpipe
