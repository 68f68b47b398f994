// Zero-filled arrays in pages reserved with mmap(MAP_NORESERVE): pages are backed on first
// touch, so a table sized for millions of entries costs address space, not memory, until
// it is used, and making one costs no memset (calloc would clear heap memory it reuses
// below glibc's dynamic mmap threshold). T must be an implicit-lifetime type.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>

namespace etcpipe {

template <class T>
class ZeroedPages {
 public:
  ZeroedPages() = default;
  // `huge_pages`: advise transparent huge pages (for arrays filled from the start on).
  // `what` names the array in the error thrown when the address space is not there.
  ZeroedPages(std::size_t n, bool huge_pages, const char* what) : n_(n == 0 ? 1 : n) {
    void* p = mmap(nullptr, bytes(), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
      throw std::runtime_error("cannot reserve " + std::to_string(bytes() >> 20) + " MiB for " +
                               what);
    }
    if (huge_pages) madvise(p, bytes(), MADV_HUGEPAGE);
    p_ = static_cast<T*>(p);
  }
  ~ZeroedPages() {
    if (p_ != nullptr) munmap(p_, bytes());
  }
  ZeroedPages(ZeroedPages&& o) noexcept : p_(std::exchange(o.p_, nullptr)), n_(o.n_) {}
  ZeroedPages& operator=(ZeroedPages&& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
    return *this;
  }

  T* get() const { return p_; }
  T& operator[](std::size_t i) const { return p_[i]; }

 private:
  std::size_t bytes() const { return n_ * sizeof(T); }
  T* p_ = nullptr;
  std::size_t n_ = 0;
};

}  // namespace etcpipe
