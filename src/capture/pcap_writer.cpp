#include "capture/pcap_writer.hpp"

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
    const PacketRef& r = batch.ref(i);
    pcap_pkthdr h{};
    h.ts.tv_sec = time_t(r.ts_ns / 1'000'000'000ULL);
    h.ts.tv_usec = suseconds_t(r.ts_ns % 1'000'000'000ULL);  // nanoseconds: see the constructor
    h.caplen = r.caplen;
    h.len = r.wire_len;
    pcap_dump(reinterpret_cast<u_char*>(dumper_), &h, batch.bytes(i).data());
  }
}

void PcapWriter::close() {
  const bool ok = pcap_dump_flush(dumper_) == 0;
  pcap_dump_close(dumper_);
  dumper_ = nullptr;
  if (!ok) throw std::runtime_error(path_ + ": write failed");
}

}  // namespace etcpipe
