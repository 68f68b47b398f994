// IPFIX (RFC 7011) to a collector over UDP or TCP, one biflow record per flow (RFC 5103).
// Templates 256 (IPv4) and 257 (IPv6): addresses, ports, protocol, VLAN id, flow start and
// end in milliseconds, packets and octets each way (the reverse direction as RFC 5103's
// reverse information elements, enterprise 29305), TCP flags each way, and the end reason.
// Runs that classify add two enterprise-specific elements (enterprise kVerdictPen): the
// label (element 1, a string in a fixed 32 bytes, NUL-padded, empty when unclassified) and
// the confidence (element 2, float32). Over UDP the templates are sent again every
// kTemplateRefresh messages, and messages stay under 1,400 bytes. The exporter never blocks the
// caller: a message the socket does not take at once (collector gone, TCP window full) is dropped
// and counted.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "export/sink.hpp"

namespace etcpipe {

class IpfixExporter final : public FlowSink {
 public:
  enum class Transport : uint8_t { Udp, Tcp };
  static constexpr uint32_t kTemplateRefresh = 64;
  // The enterprise of the verdict elements: 32473, the number IANA reserves for
  // documentation (RFC 5612), until etcpipe has one of its own.
  static constexpr uint32_t kVerdictPen = 32473;
  static constexpr uint16_t kLabelBytes = 32;

  // Resolves and connects; throws std::runtime_error if that fails. With `verdicts` the
  // records carry the label and confidence elements.
  IpfixExporter(const std::string& host, const std::string& port, Transport transport,
                bool verdicts = false, uint32_t observation_domain = 1);
  ~IpfixExporter() override;
  IpfixExporter(const IpfixExporter&) = delete;
  IpfixExporter& operator=(const IpfixExporter&) = delete;

  void write(std::span<const FlowRecord> records) override;
  void close() override;

  uint64_t records_sent() const { return records_sent_; }
  uint64_t records_dropped() const { return records_dropped_; }

 private:
  void start_message();
  void add_templates();
  void add_record(const FlowRecord& r);
  void send_message();

  std::string target_;
  Transport transport_;
  bool verdicts_;
  uint32_t domain_;
  int fd_ = -1;
  std::vector<uint8_t> msg_;
  std::size_t set_start_ = 0;  // offset of the open set's header, 0 if none
  uint16_t set_id_ = 0;
  uint32_t records_in_msg_ = 0;
  uint32_t sequence_ = 0;  // data records sent before the current message (RFC 7011 3.1)
  uint64_t messages_ = 0;
  uint64_t records_sent_ = 0;
  uint64_t records_dropped_ = 0;
};

}  // namespace etcpipe
