#include "capture/mapped_capture.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <utility>

namespace etcpipe {

namespace {
constexpr uint32_t kPcapMagicMicro = 0xA1B2C3D4;
constexpr uint32_t kPcapMagicNano = 0xA1B23C4D;
constexpr uint32_t kBlockShb = 0x0A0D0D0A;
constexpr uint32_t kBlockIdb = 0x00000001;
constexpr uint32_t kBlockPb = 0x00000002;  // obsolete Packet Block
constexpr uint32_t kBlockSpb = 0x00000003;
constexpr uint32_t kBlockEpb = 0x00000006;
constexpr uint32_t kByteOrderMagic = 0x1A2B3C4D;
// libpcap's largest snapshot length for the link types this reader is used for.
constexpr uint32_t kMaxSnaplen = 262144;
// libpcap's limit on a pcapng block (INITIAL_MAX_BLOCKSIZE); larger is a broken file.
constexpr uint32_t kMaxBlock = 16u << 20;
constexpr uint64_t kUserResolution = 1'000'000'000;  // nanoseconds

uint32_t load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

std::string too_short(uint32_t type) {
  return "block of type " + std::to_string(type) + " in pcapng dump file is too short";
}

// pcap_adjust_snapshot() for the link types this reader is used for.
uint32_t adjust_snapshot(uint32_t snaplen) {
  return snaplen == 0 || snaplen > kMaxSnaplen ? kMaxSnaplen : snaplen;
}
}  // namespace

// A mapped file that another process truncates makes reads past its new end fault (SIGBUS).
// Mappings are registered here; the handler puts zero pages where the file is gone and marks
// the mapping, whose reader stops with a read error, instead of the process dying. A fault
// anywhere else gets the disposition it had before.
namespace guard {

struct Slot {
  std::atomic<uintptr_t> begin{0};  // 0: free
  std::atomic<uintptr_t> end{0};
  std::atomic<bool> truncated{false};
};
constexpr std::size_t kSlots = 4096;  // mappings at once (a run over a directory keeps each)
std::array<Slot, kSlots> slots;
std::atomic<std::size_t> in_use{0};  // slots taken
std::atomic<std::size_t> next{0};    // where add() looks first
struct sigaction previous;
uintptr_t page_mask = 0;
std::once_flag installed;

void on_sigbus(int, siginfo_t* info, void*) {
  const auto addr = reinterpret_cast<uintptr_t>(info->si_addr);
  for (Slot& s : slots) {
    const uintptr_t b = s.begin.load(std::memory_order_acquire);
    const uintptr_t e = s.end.load(std::memory_order_acquire);
    if (b == 0 || addr < b || addr >= e) continue;
    const uintptr_t page = addr & page_mask;
    if (mmap(reinterpret_cast<void*>(page), e - page, PROT_READ,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED) {
      s.truncated.store(true, std::memory_order_release);
      return;  // the load is made again, on zeros
    }
  }
  // Not a mapped capture: the previous disposition takes the fault, made again on return.
  sigaction(SIGBUS, &previous, nullptr);
}

// The slot guarding [data, data + size), kSlots if every slot is taken.
std::size_t add(const void* data, std::size_t size) {
  std::call_once(installed, [] {
    page_mask = ~(uintptr_t(sysconf(_SC_PAGESIZE)) - 1);
    struct sigaction sa {};
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &previous);
  });
  if (in_use.load(std::memory_order_relaxed) >= kSlots) return kSlots;
  const auto b = reinterpret_cast<uintptr_t>(data);
  const std::size_t first = next.load(std::memory_order_relaxed);
  for (std::size_t k = 0; k < kSlots; ++k) {
    const std::size_t i = (first + k) % kSlots;
    Slot& s = slots[i];
    uintptr_t free = 0;
    if (s.begin.load(std::memory_order_relaxed) != 0) continue;
    s.end.store(b + size, std::memory_order_relaxed);
    s.truncated.store(false, std::memory_order_relaxed);
    if (s.begin.compare_exchange_strong(free, b, std::memory_order_release)) {
      in_use.fetch_add(1, std::memory_order_relaxed);
      next.store((i + 1) % kSlots, std::memory_order_relaxed);
      return i;
    }
  }
  return kSlots;
}

void remove(std::size_t i) {
  slots[i].begin.store(0, std::memory_order_release);
  in_use.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace guard

std::unique_ptr<FileMapping> FileMapping::open(const std::string& path, std::string& error) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = std::strerror(errno);
    return nullptr;
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) {
    error = "not a regular file";
    ::close(fd);
    return nullptr;
  }
  const auto size = static_cast<std::size_t>(st.st_size);
  void* p = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED) {
    error = std::strerror(errno);
    return nullptr;
  }
  const std::size_t slot = guard::add(p, size);
  if (slot == guard::kSlots) {  // too many mappings at once to guard this one: libpcap reads it
    munmap(p, size);
    error = "too many files mapped at once";
    return nullptr;
  }
  madvise(p, size, MADV_SEQUENTIAL);
  madvise(p, size, MADV_WILLNEED);
  return std::unique_ptr<FileMapping>(
      new FileMapping(static_cast<const uint8_t*>(p), size, slot, &guard::slots[slot].truncated));
}

FileMapping::~FileMapping() {
  guard::remove(slot_);
  munmap(const_cast<uint8_t*>(data_), size_);
}

bool MappedCapture::handles(const uint8_t* data, std::size_t size, Format& format, bool& swapped) {
  if (size < 24) return false;
  const uint32_t magic = load32(data);
  if (magic == kBlockShb) {
    const uint32_t order = load32(data + 8);
    if (order != kByteOrderMagic && order != __builtin_bswap32(kByteOrderMagic)) return false;
    format = Format::Pcapng;
    swapped = order != kByteOrderMagic;
    return true;
  }
  for (uint32_t m : {kPcapMagicMicro, kPcapMagicNano}) {
    if (magic != m && magic != __builtin_bswap32(m)) continue;
    swapped = magic != m;
    uint16_t major, minor;
    std::memcpy(&major, data + 4, 2);
    std::memcpy(&minor, data + 6, 2);
    if (swapped) {
      major = __builtin_bswap16(major);
      minor = __builtin_bswap16(minor);
    }
    // Older versions may have caplen and len swapped: libpcap's business.
    if (major != 2 || minor != 4) return false;
    format = Format::Pcap;
    return true;
  }
  return false;
}

MappedCapture::MappedCapture(const FileMapping& file, Format format, bool swapped, int dlt,
                             uint32_t snapshot)
    : file_(file),
      data_(file.data()),
      size_(file.size()),
      format_(format),
      swapped_(swapped),
      dlt_(dlt),
      snapshot_(snapshot) {
  if (format_ == Format::Pcap) {
    nano_ = u32(data_) == kPcapMagicNano;
    pos_ = 24;
  }
}

uint16_t MappedCapture::u16(const uint8_t* p) const {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return swapped_ ? __builtin_bswap16(v) : v;
}
uint32_t MappedCapture::u32(const uint8_t* p) const {
  const uint32_t v = load32(p);
  return swapped_ ? __builtin_bswap32(v) : v;
}
uint64_t MappedCapture::u64(const uint8_t* p) const {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return swapped_ ? __builtin_bswap64(v) : v;
}

int MappedCapture::next(CaptureRecord& r, std::string& error) {
  int rc = format_ == Format::Pcap ? next_pcap(r, error) : next_pcapng(r, error);
  if (file_.truncated()) {  // what was read past the file's new end is zeros
    error = "the file was truncated while it was read";
    rc = -1;
  }
  if (rc < 0) pos_ = size_;  // nothing more from a broken file
  return rc;
}

// As libpcap's sf-pcap.c reads a record of a version 2.4 file.
int MappedCapture::next_pcap(CaptureRecord& r, std::string& error) {
  const std::size_t left = size_ - pos_;
  if (left == 0) return 0;
  if (left < 16) {
    error = "truncated dump file; tried to read 16 header bytes, only got " + std::to_string(left);
    return -1;
  }
  const uint8_t* h = data_ + pos_;
  r.sec = static_cast<int32_t>(u32(h));
  r.frac = static_cast<int32_t>(u32(h + 4));
  if (!nano_) r.frac *= 1000;
  r.caplen = u32(h + 8);
  r.len = u32(h + 12);
  const std::size_t avail = left - 16;
  if (r.caplen > kMaxSnaplen) {
    error = "invalid packet capture length " + std::to_string(r.caplen) + ", bigger than " +
            (r.caplen > snapshot_ ? "snaplen of " + std::to_string(snapshot_)
                                  : "maximum of " + std::to_string(kMaxSnaplen));
    return -1;
  }
  auto truncated = [&](std::size_t want) {
    error = "truncated dump file; tried to read " + std::to_string(want) +
            " captured bytes, only got " + std::to_string(avail);
    return -1;
  };
  std::size_t skip = r.caplen;
  if (r.caplen > snapshot_) {  // read the snapshot length, skip the rest
    if (avail < snapshot_) return truncated(snapshot_);
    if (avail < r.caplen) return truncated(r.caplen);
    r.caplen = snapshot_;
  } else if (avail < r.caplen) {
    return truncated(r.caplen);
  }
  r.data = h + 16;
  pos_ += 16 + skip;
  return 1;
}

// As libpcap's sf-pcapng.c: IDBs must all have the first one's link type and snapshot
// length, a new section forgets the interfaces of the last, blocks other than packets,
// IDBs and SHBs are skipped.
int MappedCapture::next_pcapng(CaptureRecord& r, std::string& error) {
  for (;;) {
    const std::size_t left = size_ - pos_;
    if (left == 0) return 0;
    if (left < 8) {
      error = "truncated pcapng dump file; tried to read 8 bytes, only got " + std::to_string(left);
      return -1;
    }
    const uint8_t* b = data_ + pos_;
    const uint32_t type = u32(b);
    const uint32_t total = u32(b + 4);
    if (total < 12) {
      error = "block in pcapng dump file has a length of " + std::to_string(total) + " < 12";
      return -1;
    }
    if (total % 4 != 0) {
      error = "block in pcapng dump file has a length of " + std::to_string(total) +
              " that is not a multiple of 4";
      return -1;
    }
    if (total > kMaxBlock) {
      error =
          "pcapng block size " + std::to_string(total) + " > maximum " + std::to_string(kMaxBlock);
      return -1;
    }
    if (total > left) {
      error = "truncated pcapng dump file; tried to read " + std::to_string(total - 8) +
              " bytes, only got " + std::to_string(left - 8);
      return -1;
    }
    if (u32(b + total - 4) != total) {
      error = "block total length in header " + std::to_string(total) + " and trailer " +
              std::to_string(u32(b + total - 4)) + " don't match";
      return -1;
    }
    pos_ += total;
    const uint8_t* body = b + 8;
    std::size_t body_len = total - 12;
    uint32_t iface = 0;
    uint64_t t = 0;
    switch (type) {
      case kBlockEpb:
      case kBlockPb:
        if (body_len < 20) {
          error = too_short(type);
          return -1;
        }
        iface = type == kBlockEpb ? u32(body) : u16(body);
        t = uint64_t{u32(body + 4)} << 32 | u32(body + 8);
        r.caplen = u32(body + 12);
        r.len = u32(body + 16);
        body += 20;
        body_len -= 20;
        break;
      case kBlockSpb:
        if (body_len < 4) {
          error = too_short(type);
          return -1;
        }
        r.len = u32(body);
        r.caplen = r.len > snapshot_ ? snapshot_ : r.len;
        body += 4;
        body_len -= 4;
        break;
      case kBlockIdb: {
        if (body_len < 8) {
          error = too_short(type);
          return -1;
        }
        if (seen_idb_) {  // the file's first IDB set the link type and snapshot length
          const uint32_t linktype = u16(body);
          if (static_cast<uint32_t>(dlt_) != linktype) {
            error = "an interface has a type " + std::to_string(linktype) +
                    " different from the type of the first interface";
            return -1;
          }
          const uint32_t snaplen = u32(body + 4);
          if (adjust_snapshot(snaplen) != snapshot_) {
            error = "an interface has a snapshot length " + std::to_string(snaplen) +
                    " different from the snapshot length of the first interface";
            return -1;
          }
        }
        seen_idb_ = true;
        if (!add_interface(body + 8, body_len - 8, error)) return -1;
        continue;
      }
      case kBlockShb:
        if (body_len < 16) {
          error = too_short(type);
          return -1;
        }
        if (u32(body) != kByteOrderMagic) {
          error = u32(body) == __builtin_bswap32(kByteOrderMagic)
                      ? "the file has sections with different byte orders"
                      : "the file has a section with a bad byte order magic field";
          return -1;
        }
        if (u16(body + 4) != 1) {
          error = "unknown pcapng savefile major version number " + std::to_string(u16(body + 4));
          return -1;
        }
        ifaces_.clear();
        continue;
      default: continue;  // not a packet, IDB or SHB: skipped
    }
    if (iface >= ifaces_.size()) {
      error = "a packet arrived on interface " + std::to_string(iface) +
              ", but there's no Interface Description Block for that interface";
      return -1;
    }
    if (r.caplen > snapshot_) {
      error = "invalid packet capture length " + std::to_string(r.caplen) +
              ", bigger than snaplen of " + std::to_string(snapshot_);
      return -1;
    }
    const Interface& i = ifaces_[iface];
    const uint64_t sec = t / i.tsresol + static_cast<uint64_t>(i.tsoffset);
    uint64_t frac = t % i.tsresol;
    if (i.tsresol != kUserResolution) {
      if (i.binary) {
        frac = frac * kUserResolution / i.tsresol;
      } else if (i.tsresol > kUserResolution) {
        frac /= i.tsresol / kUserResolution;
      } else {
        frac *= kUserResolution / i.tsresol;
      }
    }
    r.sec = static_cast<int64_t>(sec);
    r.frac = static_cast<int64_t>(frac);
    if (body_len < r.caplen) {
      error = too_short(type);
      return -1;
    }
    r.data = body;
    return 1;
  }
}

// The IDB's options after its fixed part: if_tsresol and if_tsoffset, checked as libpcap
// checks them.
bool MappedCapture::add_interface(const uint8_t* p, std::size_t left, std::string& error) {
  Interface iface;
  bool saw_tsresol = false, saw_tsoffset = false;
  // libpcap's refusals of an option of the wrong length, or given twice (seen: null for an
  // option that may repeat).
  auto bad_option = [&error](const char* name, uint16_t len, uint16_t want, bool* seen) {
    const std::string what = std::string("Interface Description Block has ") + name;
    if (len != want) {
      error = what + " option with length " + std::to_string(len) + " != " + std::to_string(want);
      return true;
    }
    if (seen != nullptr && std::exchange(*seen, true)) {
      error = "Interface Description Block has more than one " + std::string(name) + " option";
      return true;
    }
    return false;
  };
  while (left != 0) {
    if (left < 4) {
      error = too_short(kBlockIdb);
      return false;
    }
    const uint16_t code = u16(p);
    const uint16_t len = u16(p + 2);
    const std::size_t padded = (std::size_t{len} + 3) / 4 * 4;
    if (left - 4 < padded) {
      error = too_short(kBlockIdb);
      return false;
    }
    const uint8_t* value = p + 4;
    p += 4 + padded;
    left -= 4 + padded;
    if (code == 0) {
      if (bad_option("opt_endofopt", len, 0, nullptr)) return false;
      break;
    }
    if (code == 9) {
      if (bad_option("if_tsresol", len, 1, &saw_tsresol)) return false;
      const uint8_t v = value[0];
      if (v & 0x80) {
        if ((v & 0x7F) > 63) {
          error = "Interface Description Block if_tsresol option resolution 2^-" +
                  std::to_string(v & 0x7F) + " is too high";
          return false;
        }
        iface.binary = true;
        iface.tsresol = uint64_t{1} << (v & 0x7F);
      } else {
        if (v > 19) {
          error = "Interface Description Block if_tsresol option resolution 10^-" +
                  std::to_string(v) + " is too high";
          return false;
        }
        iface.binary = false;
        iface.tsresol = 1;
        for (unsigned k = 0; k < v; ++k) iface.tsresol *= 10;
      }
    } else if (code == 14) {
      if (bad_option("if_tsoffset", len, 8, &saw_tsoffset)) return false;
      iface.tsoffset = static_cast<int64_t>(u64(value));
    }
  }
  ifaces_.push_back(iface);
  return true;
}

}  // namespace etcpipe
