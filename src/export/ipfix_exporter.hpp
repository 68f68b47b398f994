// IPFIX (RFC 7011) to a collector over UDP or TCP, one biflow record per flow (RFC 5103).
// Templates 256 (IPv4) and 257 (IPv6): addresses, ports, protocol, VLAN id, flow start and
// end in milliseconds, packets and octets each way (the reverse direction as RFC 5103's
// reverse information elements, enterprise 29305), TCP flags each way, and the end reason.
// Runs that classify add two enterprise-specific elements (enterprise kVerdictPen): the
// label (element 1, a string in a fixed 32 bytes, NUL-padded, empty when unclassified) and
// the confidence (element 2, float32). Over UDP the templates are sent again every
// kTemplateRefresh messages, and messages stay under 1,400 bytes. The exporter never blocks the
// caller: a message the socket does not take at once (collector gone, TCP window full) is dropped
// and counted. Over TCP a message taken in part is finished before any other is sent (later
// messages are dropped meanwhile, so the stream stays whole), and a connection that breaks is
// made again (with the templates first) after a delay that doubles from 0.1 s up to 5 s.
#pragma once

#include <sys/socket.h>

#include <chrono>
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
  void report(std::vector<Report>& out) const override;

  uint64_t records_sent() const { return records_sent_; }
  uint64_t records_dropped() const { return records_dropped_; }
  uint64_t reconnects() const { return reconnects_; }

 private:
  void start_message();
  void add_templates();
  void add_record(const FlowRecord& r);
  void send_message();
  void send_udp();
  void send_tcp();
  // Sends what is left of a message taken in part; true once nothing is left.
  bool flush_pending();
  // The TCP connection broke: closes it, counts the records in flight, plans a retry.
  void lost();
  // Connects again if the retry delay is over; sends the templates first. True if connected.
  bool reconnect();

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
  // TCP: where to connect again, the rest of a message taken in part, the retry schedule.
  sockaddr_storage addr_{};
  socklen_t addr_len_ = 0;
  int family_ = 0, socktype_ = 0, protocol_ = 0;
  std::vector<uint8_t> pending_;
  uint32_t pending_records_ = 0;
  std::chrono::steady_clock::time_point retry_at_{};
  std::chrono::milliseconds retry_delay_{100};
  uint64_t reconnects_ = 0;
};

}  // namespace etcpipe
