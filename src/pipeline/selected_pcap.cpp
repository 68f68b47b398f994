#include "pipeline/selected_pcap.hpp"

namespace etcpipe {

void SelectedPcapWriter::write(const SelectedBatch& batch) {
  for (uint32_t i = 0; i < batch.size(); ++i) {
    const SelectedPacket& p = batch.packet(i);
    if (p.end) continue;
    if (!out_) {
      dlt_ = p.meta.link_type;
      out_ = std::make_unique<PcapWriter>(path_, dlt_, snaplen_);
    }
    if (p.meta.link_type != dlt_) {
      ++other_link_type_;
      continue;
    }
    out_->write(p.meta.ts_ns, batch.bytes(i), p.meta.wire_len);
    ++written_;
  }
}

void SelectedPcapWriter::close() {
  if (!out_) out_ = std::make_unique<PcapWriter>(path_, 1, snaplen_);  // Ethernet, empty
  out_->close();
}

}  // namespace etcpipe
