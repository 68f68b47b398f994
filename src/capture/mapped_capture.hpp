// A capture file (classic pcap or pcapng) read in place: the file is mapped and each record
// is parsed where it lies, so a packet's bytes are never copied by the reader. It reads the
// files libpcap would read the same way libpcap does (same packets, lengths, timestamps in
// nanoseconds, same points of failure); PcapFileSource opens each file with libpcap first
// (header checks, link type, snapshot length) and uses this reader for the common formats.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace etcpipe {

// A read-only mapping of a whole file, unmapped on destruction. If another process
// truncates the file meanwhile, reads past its new end give zeros instead of SIGBUS, and
// truncated() turns true.
class FileMapping {
 public:
  // Maps `path` if it is a regular, non-empty file; otherwise (or if mmap fails, or too many
  // files are mapped at once) returns null and leaves the reason in `error`.
  static std::unique_ptr<FileMapping> open(const std::string& path, std::string& error);
  ~FileMapping();
  FileMapping(const FileMapping&) = delete;
  FileMapping& operator=(const FileMapping&) = delete;

  const uint8_t* data() const { return data_; }
  std::size_t size() const { return size_; }
  bool truncated() const { return truncated_->load(std::memory_order_acquire); }

 private:
  FileMapping(const uint8_t* data, std::size_t size, std::size_t slot,
              const std::atomic<bool>* truncated)
      : data_(data), size_(size), slot_(slot), truncated_(truncated) {}
  const uint8_t* data_;
  std::size_t size_;
  std::size_t slot_;                    // its entry among the mappings the SIGBUS handler knows
  const std::atomic<bool>* truncated_;  // set by the SIGBUS handler
};

struct CaptureRecord {
  int64_t sec;          // as libpcap's tv_sec
  int64_t frac;         // nanoseconds, as libpcap's tv_usec at nanosecond precision
  uint32_t caplen;      // bytes at `data`
  uint32_t len;         // on the wire
  const uint8_t* data;  // in the mapping
};

// The records of one mapped file. `dlt` and `snapshot` are what libpcap gave for the file
// (pcap_datalink, pcap_snapshot).
class MappedCapture {
 public:
  enum class Format : uint8_t { Pcap, Pcapng };
  // Whether the file's first bytes are a format this reader parses (classic pcap version
  // 2.4 with the micro- or nanosecond magic, either byte order; pcapng). Others (modified
  // pcap formats, old versions) stay with libpcap.
  static bool handles(const uint8_t* data, std::size_t size, Format& format, bool& swapped);

  MappedCapture(const FileMapping& file, Format format, bool swapped, int dlt, uint32_t snapshot);

  // 1: a record; 0: end of file; -1: the file is broken here (`error` says how; nothing
  // more is read from it).
  int next(CaptureRecord& r, std::string& error);
  // Bytes consumed so far.
  std::size_t position() const { return pos_; }

 private:
  int next_pcap(CaptureRecord& r, std::string& error);
  int next_pcapng(CaptureRecord& r, std::string& error);
  uint16_t u16(const uint8_t* p) const;
  uint32_t u32(const uint8_t* p) const;
  uint64_t u64(const uint8_t* p) const;

  struct Interface {
    uint64_t tsresol = 1'000'000;  // units per second
    int64_t tsoffset = 0;          // seconds
    bool binary = false;           // tsresol is a power of 2
  };
  bool add_interface(const uint8_t* body, std::size_t size, std::string& error);

  const FileMapping& file_;
  const uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
  Format format_;
  bool swapped_;
  bool nano_ = false;  // classic pcap: nanosecond magic
  int dlt_;
  uint32_t snapshot_;
  std::vector<Interface> ifaces_;  // pcapng: of the current section
  bool seen_idb_ = false;          // pcapng: later IDBs must agree with the first
};

}  // namespace etcpipe
