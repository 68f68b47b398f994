#include "pipeline/selected_pcap.hpp"

#include <stdexcept>

namespace etcpipe {

void SelectedPcapWriter::write(const SelectedBatch& batch) {
  if (!error_.empty()) return;  // the file could not be created: close() says it
  for (uint32_t i = 0; i < batch.size(); ++i) {
    const SelectedPacket& p = batch.packet(i);
    if (p.end) continue;
    if (!out_) {
      dlt_ = p.meta.link_type;
      try {
        out_ = std::make_unique<PcapWriter>(path_, dlt_, snaplen_);
      } catch (const std::exception& e) {  // thrown here it would end the run; close() says it
        error_ = e.what();
        return;
      }
    }
    if (p.meta.link_type != dlt_) {
      ++other_link_type_;
      continue;
    }
    if (out_->failed()) return;  // close() reports it
    out_->write(p.meta.ts_ns, batch.bytes(i), p.meta.wire_len);
    if (!out_->failed()) ++written_;
  }
}

void SelectedPcapWriter::close() {
  if (!error_.empty()) throw std::runtime_error(error_);
  if (!out_) out_ = std::make_unique<PcapWriter>(path_, 1, snaplen_);  // Ethernet, empty
  out_->close();
}

}  // namespace etcpipe
