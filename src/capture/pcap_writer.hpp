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
  // After a write error (see failed()) packets are no longer written.
  void write(uint64_t ts_ns, std::span<const uint8_t> bytes, uint32_t wire_len);
  // Flushes; throws std::runtime_error if any data could not be written.
  void close();
  // Whether a write failed (the file misses packets); close() throws the error.
  bool failed() const { return !error_.empty(); }

 private:
  void check();

  std::string path_;
  std::string error_;  // the first write error
  pcap_t* dead_ = nullptr;
  pcap_dumper_t* dumper_ = nullptr;
};

}  // namespace etcpipe
