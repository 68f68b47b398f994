// Reads pcap and pcapng files (both byte orders, micro- and nanosecond timestamps), one
// after the other, with an optional BPF expression applied per packet so that filtered
// packets are counted rather than silently dropped. libpcap opens each file (header checks,
// link type, snapshot length) and compiles the filter; the records of regular files in the
// common formats (pcap 2.4, pcapng) with a supported link type are then read in place from
// a mapping of the file (MappedCapture: the packets are lent to the batch, not copied), and
// those of other inputs (stdin, pipes, older or modified formats) through libpcap.
#pragma once

#include <pcap/pcap.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "capture/source.hpp"

namespace etcpipe {

class FileMapping;
class MappedCapture;

// Expands the inputs of -r: a file stays as is, a directory becomes the capture files under
// it (subdirectories too: one per class in public datasets) in path order; files there
// without a pcap or pcapng magic number (READMEs, label files) are left out. Throws
// std::runtime_error for a path that does not exist. An entry of a directory that cannot be
// read (a symlink loop, an unreadable subdirectory) is passed to `skip` with the reason and
// left out; without `skip` it throws std::runtime_error.
std::vector<std::string> expand_capture_paths(
    const std::vector<std::string>& inputs,
    const std::function<void(const std::string&)>& skip = {});

class PcapFileSource final : public PacketSource {
 public:
  // Called for each problem worth telling the user (unreadable file, truncated file,
  // unsupported link type), with a complete message.
  using Warn = std::function<void(const std::string&)>;

  // Throws std::runtime_error when the BPF expression does not compile. `in_place`: read
  // the files that allow it from a mapping (their packets are lent to the batches and stay
  // valid until release() or the source's end); false reads everything through libpcap
  // (tests compare).
  PcapFileSource(std::vector<std::string> files, std::string bpf, Warn warn, bool in_place = true);
  ~PcapFileSource() override;

  bool next_batch(PacketBatch& batch) override;
  const SourceStats& stats() const override { return stats_; }
  double progress() const override;
  void release() override;

  // Files that could not be opened at all.
  uint64_t open_failures() const { return open_failures_; }

 private:
  bool open_next();
  void close_current();
  void map_current(const std::string& name);

  std::vector<std::string> files_;
  std::string bpf_;
  Warn warn_;
  std::size_t next_file_ = 0;
  pcap_t* pcap_ = nullptr;
  bpf_program prog_{};
  bool have_prog_ = false;
  int dlt_ = 0;
  std::vector<uint64_t> sizes_;  // of each file (0 if unknown), read once
  uint64_t total_bytes_ = 0;     // sum of file sizes
  uint64_t done_bytes_ = 0;      // sizes of the files finished
  FILE* current_file_ = nullptr;
  bool in_place_ = true;
  std::unique_ptr<MappedCapture> mapped_;               // the current file, read in place
  std::vector<std::unique_ptr<FileMapping>> mappings_;  // kept: batches lend their bytes
  SourceStats stats_;
  uint64_t open_failures_ = 0;
};

}  // namespace etcpipe
