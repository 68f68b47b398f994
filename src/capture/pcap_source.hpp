// Reads pcap and pcapng files (both byte orders, micro- and nanosecond timestamps) through
// libpcap, one after the other, with an optional BPF expression applied per packet so that
// filtered packets are counted rather than silently dropped.
#pragma once

#include <pcap/pcap.h>

#include <functional>
#include <string>
#include <vector>

#include "capture/source.hpp"

namespace etcpipe {

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

  // Throws std::runtime_error when the BPF expression does not compile.
  PcapFileSource(std::vector<std::string> files, std::string bpf, Warn warn);
  ~PcapFileSource() override;

  bool next_batch(PacketBatch& batch) override;
  const SourceStats& stats() const override { return stats_; }
  double progress() const override;

  // Files that could not be opened at all.
  uint64_t open_failures() const { return open_failures_; }

 private:
  bool open_next();
  void close_current();

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
  SourceStats stats_;
  uint64_t open_failures_ = 0;
};

}  // namespace etcpipe
