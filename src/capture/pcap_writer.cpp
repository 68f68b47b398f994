#include "capture/pcap_writer.hpp"

#include <algorithm>
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
  pcap_pkthdr h{};
  h.ts.tv_sec = time_t(ts_ns / 1'000'000'000ULL);
  h.ts.tv_usec = suseconds_t(ts_ns % 1'000'000'000ULL);  // nanoseconds: see the constructor
  h.caplen = static_cast<uint32_t>(bytes.size());
  h.len = std::max(wire_len, h.caplen);
  pcap_dump(reinterpret_cast<u_char*>(dumper_), &h, bytes.data());
}

void PcapWriter::close() {
  const bool ok = pcap_dump_flush(dumper_) == 0;
  pcap_dump_close(dumper_);
  dumper_ = nullptr;
  if (!ok) throw std::runtime_error(path_ + ": write failed");
}

}  // namespace etcpipe
