#include "capture/pcap_writer.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace etcpipe {

PcapWriter::PcapWriter(const std::string& path, int dlt, uint32_t snaplen) : path_(path) {
  dead_ = pcap_open_dead_with_tstamp_precision(dlt, int(snaplen), PCAP_TSTAMP_PRECISION_NANO);
  dumper_ = pcap_dump_open(dead_, path.c_str());
  if (dumper_ == nullptr) {
    const std::string err = pcap_geterr(dead_);
    pcap_close(dead_);
    throw std::runtime_error(path + ": " + err);
  }
}

PcapWriter::~PcapWriter() {
  if (dumper_ != nullptr) pcap_dump_close(dumper_);
  pcap_close(dead_);
}

void PcapWriter::write(const PacketBatch& batch) {
  for (uint32_t i = 0; i < batch.size(); ++i) {
    write(batch.ref(i).ts_ns, batch.bytes(i), batch.ref(i).wire_len);
  }
}

void PcapWriter::write(uint64_t ts_ns, std::span<const uint8_t> bytes, uint32_t wire_len) {
  if (!error_.empty()) return;  // the file is broken: later packets would only add holes
  pcap_pkthdr h{};
  h.ts.tv_sec = time_t(ts_ns / 1'000'000'000ULL);
  h.ts.tv_usec = suseconds_t(ts_ns % 1'000'000'000ULL);  // nanoseconds: see the constructor
  h.caplen = static_cast<uint32_t>(bytes.size());
  h.len = std::max(wire_len, h.caplen);
  errno = 0;
  pcap_dump(reinterpret_cast<u_char*>(dumper_), &h, bytes.data());
  check();
}

void PcapWriter::check() {
  // pcap_dump() says nothing: the stream's error flag tells (disk full, I/O error).
  if (error_.empty() && std::ferror(pcap_dump_file(dumper_)) != 0) {
    error_ = path_ + ": write failed: " + std::strerror(errno != 0 ? errno : EIO);
  }
}

void PcapWriter::close() {
  if (dumper_ == nullptr) return;
  errno = 0;
  if (pcap_dump_flush(dumper_) != 0 && error_.empty()) {
    error_ = path_ + ": write failed: " + std::strerror(errno != 0 ? errno : EIO);
  }
  check();
  pcap_dump_close(dumper_);
  dumper_ = nullptr;
  if (!error_.empty()) throw std::runtime_error(error_);
}

}  // namespace etcpipe
