// The pcap: output: the selected (analysed) packets of every flow written as a capture, so
// that what a model saw can be opened in Wireshark. The file takes the link type of the
// first selected packet; packets of another link type (mixed inputs) are counted, not
// written. With several workers, packets are in order per flow, not across flows.
#pragma once

#include <memory>
#include <string>

#include "capture/pcap_writer.hpp"
#include "features/selected.hpp"

namespace etcpipe {

class SelectedPcapWriter {
 public:
  SelectedPcapWriter(std::string path, uint32_t snaplen)
      : path_(std::move(path)), snaplen_(snaplen) {}
  void write(const SelectedBatch& batch);
  // Creates the file if no packet came; throws std::runtime_error on a write error (after
  // which write() wrote nothing more).
  void close();
  uint64_t written() const { return written_; }
  uint64_t other_link_type() const { return other_link_type_; }

 private:
  std::string path_;
  uint32_t snaplen_;
  int dlt_ = -1;
  std::unique_ptr<PcapWriter> out_;
  std::string error_;  // the file could not be created
  uint64_t written_ = 0;
  uint64_t other_link_type_ = 0;
};

}  // namespace etcpipe
