// Writes packets to a pcap file (nanosecond timestamps) through libpcap.
#pragma once

#include <pcap/pcap.h>

#include <string>

#include "capture/packet_batch.hpp"

namespace etcpipe {

class PcapWriter {
 public:
  // Throws std::runtime_error if the file cannot be created.
  PcapWriter(const std::string& path, int dlt, uint32_t snaplen);
  ~PcapWriter();
  PcapWriter(const PcapWriter&) = delete;
  PcapWriter& operator=(const PcapWriter&) = delete;

  void write(const PacketBatch& batch);
  void write(uint64_t ts_ns, std::span<const uint8_t> bytes, uint32_t wire_len);
  // Flushes; throws std::runtime_error if the data could not be written.
  void close();

 private:
  std::string path_;
  pcap_t* dead_ = nullptr;
  pcap_dumper_t* dumper_ = nullptr;
};

}  // namespace etcpipe
