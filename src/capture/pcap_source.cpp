#include "capture/pcap_source.hpp"

#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>

#include "capture/bpf.hpp"
#include "capture/mapped_capture.hpp"
#include "packet/decoder.hpp"

namespace etcpipe {

namespace fs = std::filesystem;

namespace {
// 2^33 s, the year 2242: packet times in ns stay far from uint64 overflow.
constexpr int64_t kMaxSeconds = int64_t{1} << 33;

// Whether a file starts with a pcap (either byte order, micro- or nanosecond) or pcapng
// magic number: a directory's READMEs and label files are not captures.
bool looks_like_capture(const fs::path& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return true;  // let the reader report why it cannot be opened
  unsigned char m[4] = {};
  const std::size_t n = std::fread(m, 1, 4, f);
  std::fclose(f);
  if (n < 4) return false;
  const uint32_t be = uint32_t(m[0]) << 24 | uint32_t(m[1]) << 16 | uint32_t(m[2]) << 8 | m[3];
  for (uint32_t magic : {0xA1B2C3D4u, 0xA1B23C4Du, 0x0A0D0D0Au}) {
    const uint32_t swapped = __builtin_bswap32(magic);
    if (be == magic || be == swapped) return true;
  }
  return false;
}
}  // namespace

std::vector<std::string> expand_capture_paths(const std::vector<std::string>& inputs,
                                              const std::function<void(const std::string&)>& skip) {
  std::vector<std::string> files;
  auto skipped = [&](const std::string& path, const std::error_code& ec) {
    if (!skip) throw std::runtime_error(path + ": " + ec.message());
    skip(path + ": " + ec.message() + "; left out");
  };
  for (const auto& in : inputs) {
    std::error_code ec;
    if (fs::is_directory(in, ec)) {
      // One bad entry (a symlink loop, an unreadable subdirectory) is reported and left
      // out; the rest of the directory is still read.
      std::vector<std::string> inside;
      fs::recursive_directory_iterator it(in, fs::directory_options::skip_permission_denied, ec);
      if (ec) {
        skipped(in, ec);
        continue;
      }
      for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        const fs::directory_entry& entry = *it;
        std::error_code entry_ec;
        if (entry.is_directory(entry_ec) && !entry.is_symlink(entry_ec)) {
          // The iterator would end at a subdirectory it cannot open: test it first.
          if (DIR* d = opendir(entry.path().c_str())) {
            closedir(d);
          } else {
            skipped(entry.path().string(), std::error_code(errno, std::generic_category()));
            it.disable_recursion_pending();
          }
          continue;
        }
        const bool regular = entry.is_regular_file(entry_ec);
        if (entry_ec) {
          skipped(entry.path().string(), entry_ec);
        } else if (regular && looks_like_capture(entry.path())) {
          inside.push_back(entry.path().string());
        }
      }
      if (ec) skipped(in, ec);
      std::sort(inside.begin(), inside.end());
      files.insert(files.end(), inside.begin(), inside.end());
    } else if (in == "-" || fs::exists(in, ec)) {
      files.push_back(in);
    } else {
      throw std::runtime_error(in + ": no such file or directory");
    }
  }
  return files;
}

PcapFileSource::PcapFileSource(std::vector<std::string> files, std::string bpf, Warn warn,
                               bool in_place)
    : files_(std::move(files)), bpf_(std::move(bpf)), warn_(std::move(warn)), in_place_(in_place) {
  for (const auto& f : files_) {
    std::error_code ec;
    const auto size = fs::file_size(f, ec);
    sizes_.push_back(ec ? 0 : size);
    total_bytes_ += sizes_.back();
  }
  if (!bpf_.empty()) check_bpf(bpf_);  // validate once up front
}

PcapFileSource::~PcapFileSource() {
  close_current();
}

void PcapFileSource::close_current() {
  if (have_prog_) pcap_freecode(&prog_);
  have_prog_ = false;
  if (pcap_ != nullptr) pcap_close(pcap_);
  pcap_ = nullptr;
  current_file_ = nullptr;
  mapped_.reset();
}

// Reads the file just opened by libpcap in place when it is a regular file in a format
// MappedCapture parses the way libpcap does. Swapped Linux cooked captures stay with
// libpcap, which rewrites some of their headers (CAN) into host order.
void PcapFileSource::map_current(const std::string& name) {
  if (!in_place_ || name == "-" || !linktype_supported(dlt_)) return;
  const bool swapped = pcap_is_swapped(pcap_) == 1;
  if (swapped && (dlt_ == DLT_LINUX_SLL || dlt_ == DLT_LINUX_SLL2)) return;
  std::string error;
  auto file = FileMapping::open(name, error);
  if (!file) return;
  MappedCapture::Format format;
  bool file_swapped = false;
  if (!MappedCapture::handles(file->data(), file->size(), format, file_swapped) ||
      file_swapped != swapped) {
    return;
  }
  const int snapshot = pcap_snapshot(pcap_);
  if (snapshot <= 0) return;
  mapped_ = std::make_unique<MappedCapture>(*file, format, swapped, dlt_,
                                            static_cast<uint32_t>(snapshot));
  mappings_.push_back(std::move(file));
}

bool PcapFileSource::open_next() {
  while (next_file_ < files_.size()) {
    const std::string& name = files_[next_file_++];
    char err[PCAP_ERRBUF_SIZE] = {};
    pcap_ = pcap_open_offline_with_tstamp_precision(name.c_str(), PCAP_TSTAMP_PRECISION_NANO, err);
    if (pcap_ == nullptr) {
      ++open_failures_;
      warn_(name + ": " + err);
      continue;
    }
    current_file_ = pcap_file(pcap_);
    dlt_ = pcap_datalink(pcap_);
    if (!linktype_supported(dlt_)) {
      const char* dlt_name = pcap_datalink_val_to_name(dlt_);
      warn_(name + ": link type " + (dlt_name ? dlt_name : "?") + " (" + std::to_string(dlt_) +
            ") is not supported; its packets are counted as unknown_linktype");
    }
    if (!bpf_.empty()) {
      std::string error;
      if (!compile_bpf(bpf_, dlt_, prog_, error)) {
        ++open_failures_;
        warn_(name + ": filter does not apply to this link type: " + error);
        close_current();
        continue;
      }
      have_prog_ = true;
    }
    map_current(name);
    return true;
  }
  return false;
}

void PcapFileSource::release() {
  mapped_.reset();
  mappings_.clear();
}

double PcapFileSource::progress() const {
  if (total_bytes_ == 0) return -1.0;
  uint64_t done = done_bytes_;
  if (mapped_) {
    done += mapped_->position();
  } else if (current_file_ != nullptr) {
    const long pos = std::ftell(current_file_);
    if (pos > 0) done += static_cast<uint64_t>(pos);
  }
  return std::min(1.0, static_cast<double>(done) / static_cast<double>(total_bytes_));
}

bool PcapFileSource::next_batch(PacketBatch& batch) {
  batch.clear();
  if (pcap_ == nullptr && !open_next()) return false;
  batch.dlt = dlt_;
  std::string error;
  while (!batch.full()) {
    CaptureRecord rec;
    int rc;
    if (mapped_) {
      rc = mapped_->next(rec, error);
    } else {
      pcap_pkthdr* hdr = nullptr;
      const u_char* data = nullptr;
      rc = pcap_next_ex(pcap_, &hdr, &data);
      if (rc == 1) {
        rec = {hdr->ts.tv_sec, hdr->ts.tv_usec, hdr->caplen, hdr->len, data};
      } else if (rc == PCAP_ERROR) {
        error = pcap_geterr(pcap_);
        rc = -1;
      } else {
        rc = 0;
      }
    }
    if (rc != 1) {
      if (rc < 0) {  // e.g. "truncated dump file": keep what was read
        ++stats_.read_errors;
        warn_(files_[next_file_ - 1] + ": " + error);
      }
      done_bytes_ += sizes_[next_file_ - 1];
      close_current();
      // A batch holds one link type: hand over what we have before the next file.
      if (batch.size() > 0) return true;
      if (!open_next()) return false;
      batch.dlt = dlt_;
      continue;
    }
    ++stats_.packets;
    stats_.bytes += rec.len;
    if (have_prog_) {
      pcap_pkthdr h{};
      h.caplen = rec.caplen;
      h.len = rec.len;
      if (pcap_offline_filter(&prog_, &h, rec.data) == 0) {
        ++stats_.filtered;
        continue;
      }
    }
    const uint32_t caplen = std::min<uint32_t>(rec.caplen, PacketBatch::kMaxPacket);
    // Nanosecond precision: `frac` holds nanoseconds. Times outside [epoch, kMaxSeconds]
    // (hostile headers, pcapng with a coarse resolution) are clamped.
    const auto sec = std::clamp<int64_t>(rec.sec, 0, kMaxSeconds);
    const uint64_t ts = static_cast<uint64_t>(sec) * 1'000'000'000ULL +
                        std::min<uint64_t>(static_cast<uint64_t>(rec.frac), 999'999'999);
    if (mapped_) {
      batch.lend({ts, rec.data, caplen, rec.len});  // the mapping outlives the run
    } else {
      batch.push(ts, rec.data, caplen, rec.len);
    }
  }
  return true;
}

}  // namespace etcpipe
