#include "export/ipfix_exporter.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <stdexcept>

namespace etcpipe {
namespace {

constexpr uint16_t kVersion = 10;
constexpr uint16_t kTemplateSetId = 2;
constexpr uint16_t kTemplateV4 = 256, kTemplateV6 = 257;
constexpr uint32_t kReversePen = 29305;  // RFC 5103 reverse information elements
constexpr std::size_t kUdpMessageBytes = 1400;
constexpr std::size_t kTcpMessageBytes = 65000;
constexpr std::chrono::milliseconds kFirstRetry{100}, kMaxRetry{5000};
constexpr int kConnectWaitMs = 200;  // a reconnection waits this long at most (sink thread)
constexpr int kCloseWaitMs = 2000;   // close() waits this long for a slow collector

struct Field {
  uint16_t id;
  uint16_t length;
  bool reverse = false;
};

// The record layout after the two addresses (whose elements depend on the IP version).
constexpr Field kFields[] = {
    {7, 2},        // sourceTransportPort
    {11, 2},       // destinationTransportPort
    {4, 1},        // protocolIdentifier
    {58, 2},       // vlanId
    {152, 8},      // flowStartMilliseconds
    {153, 8},      // flowEndMilliseconds
    {2, 8},        // packetDeltaCount (client -> server)
    {1, 8},        // octetDeltaCount
    {2, 8, true},  // reverse packetDeltaCount (server -> client)
    {1, 8, true},  // reverse octetDeltaCount
    {6, 2},        // tcpControlBits
    {6, 2, true},  // reverse tcpControlBits
    {136, 1},      // flowEndReason
};

void put16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(uint8_t(v >> 8));
  b.push_back(uint8_t(v));
}
void put32(std::vector<uint8_t>& b, uint32_t v) {
  put16(b, uint16_t(v >> 16));
  put16(b, uint16_t(v));
}
void put64(std::vector<uint8_t>& b, uint64_t v) {
  put32(b, uint32_t(v >> 32));
  put32(b, uint32_t(v));
}
void set16(std::vector<uint8_t>& b, std::size_t at, uint16_t v) {
  b[at] = uint8_t(v >> 8);
  b[at + 1] = uint8_t(v);
}

uint8_t end_reason_code(EndReason r) {  // IANA flowEndReason
  switch (r) {
    case EndReason::Idle: return 1;
    case EndReason::Active: return 2;
    case EndReason::Fin:
    case EndReason::Rst: return 3;  // end of flow detected
    case EndReason::EndOfInput:
    case EndReason::TimeReset:
    case EndReason::Interrupted: return 4;  // forced end
    case EndReason::Evicted: return 5;      // lack of resources
  }
  return 4;
}

}  // namespace

IpfixExporter::IpfixExporter(const std::string& host, const std::string& port, Transport transport,
                             bool verdicts, uint32_t observation_domain)
    : target_(host + ":" + port),
      transport_(transport),
      verdicts_(verdicts),
      domain_(observation_domain) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = transport == Transport::Udp ? SOCK_DGRAM : SOCK_STREAM;
  addrinfo* res = nullptr;
  if (const int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    throw std::runtime_error("IPFIX collector " + target_ + ": " + gai_strerror(rc));
  }
  std::string error = "no address";
  for (addrinfo* a = res; a != nullptr && fd_ < 0; a = a->ai_next) {
    fd_ = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd_ < 0) continue;
    if (connect(fd_, a->ai_addr, a->ai_addrlen) != 0) {
      error = std::strerror(errno);
      ::close(fd_);
      fd_ = -1;
      continue;
    }
    std::memcpy(&addr_, a->ai_addr, a->ai_addrlen);
    addr_len_ = a->ai_addrlen;
    family_ = a->ai_family;
    socktype_ = a->ai_socktype;
    protocol_ = a->ai_protocol;
  }
  freeaddrinfo(res);
  if (fd_ < 0) throw std::runtime_error("IPFIX collector " + target_ + ": " + error);
  fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) | O_NONBLOCK);  // never block the caller
  start_message();
  add_templates();
}

IpfixExporter::~IpfixExporter() {
  if (fd_ >= 0) ::close(fd_);
}

void IpfixExporter::start_message() {
  msg_.clear();
  put16(msg_, kVersion);
  put16(msg_, 0);  // length, set when sent
  put32(msg_, uint32_t(std::time(nullptr)));
  put32(msg_, sequence_);
  put32(msg_, domain_);
  set_start_ = 0;
  records_in_msg_ = 0;
}

void IpfixExporter::add_templates() {
  put16(msg_, kTemplateSetId);
  const std::size_t len_at = msg_.size();
  put16(msg_, 0);
  const std::size_t start = msg_.size() - 4;
  for (bool v6 : {false, true}) {
    put16(msg_, v6 ? kTemplateV6 : kTemplateV4);
    put16(msg_, uint16_t(2 + std::size(kFields) + (verdicts_ ? 2 : 0)));
    put16(msg_, v6 ? 27 : 8);  // sourceIPv6Address / sourceIPv4Address
    put16(msg_, v6 ? 16 : 4);
    put16(msg_, v6 ? 28 : 12);  // destination
    put16(msg_, v6 ? 16 : 4);
    for (const Field& f : kFields) {
      put16(msg_, f.reverse ? uint16_t(f.id | 0x8000) : f.id);
      put16(msg_, f.length);
      if (f.reverse) put32(msg_, kReversePen);
    }
    if (verdicts_) {
      put16(msg_, 0x8000 | 1);  // label
      put16(msg_, kLabelBytes);
      put32(msg_, kVerdictPen);
      put16(msg_, 0x8000 | 2);  // confidence
      put16(msg_, 4);
      put32(msg_, kVerdictPen);
    }
  }
  set16(msg_, len_at, uint16_t(msg_.size() - start));
}

void IpfixExporter::add_record(const FlowRecord& r) {
  const bool v6 = r.ip_version == 6;
  const uint16_t set_id = v6 ? kTemplateV6 : kTemplateV4;
  // addresses + kFields (+ label and confidence)
  const std::size_t record_bytes = (v6 ? 32 : 8) + 60 + (verdicts_ ? kLabelBytes + 4 : 0);
  const std::size_t limit = transport_ == Transport::Udp ? kUdpMessageBytes : kTcpMessageBytes;
  if (msg_.size() + record_bytes + 4 > limit) send_message();
  if (set_start_ == 0 || set_id_ != set_id) {
    if (set_start_ != 0) set16(msg_, set_start_ + 2, uint16_t(msg_.size() - set_start_));
    set_start_ = msg_.size();
    set_id_ = set_id;
    put16(msg_, set_id);
    put16(msg_, 0);
  }
  const std::size_t n = v6 ? 16 : 4;
  msg_.insert(msg_.end(), r.src.b, r.src.b + n);
  msg_.insert(msg_.end(), r.dst.b, r.dst.b + n);
  put16(msg_, r.src_port);
  put16(msg_, r.dst_port);
  msg_.push_back(r.proto);
  put16(msg_, r.vlan);
  put64(msg_, r.first_ns / 1'000'000);
  put64(msg_, r.last_ns / 1'000'000);
  put64(msg_, r.pkts_fwd);
  put64(msg_, r.bytes_fwd);
  put64(msg_, r.pkts_rev);
  put64(msg_, r.bytes_rev);
  put16(msg_, r.tcp_flags_fwd);
  put16(msg_, r.tcp_flags_rev);
  msg_.push_back(end_reason_code(r.end_reason));
  if (verdicts_) {
    // NUL-padded, cut at kLabelBytes (a string of exactly that length has no NUL).
    const std::string_view label = r.label != nullptr ? r.label : "";
    const std::size_t used = std::min<std::size_t>(label.size(), kLabelBytes);
    msg_.insert(msg_.end(), label.begin(), label.begin() + std::ptrdiff_t(used));
    msg_.insert(msg_.end(), kLabelBytes - used, uint8_t{0});
    uint32_t bits = 0;
    const float confidence = r.label != nullptr ? r.confidence : 0.0f;
    std::memcpy(&bits, &confidence, sizeof bits);
    put32(msg_, bits);
  }
  ++records_in_msg_;
}

void IpfixExporter::send_message() {
  if (set_start_ != 0) set16(msg_, set_start_ + 2, uint16_t(msg_.size() - set_start_));
  if (records_in_msg_ > 0 || messages_ == 0) {
    set16(msg_, 2, uint16_t(msg_.size()));
    if (transport_ == Transport::Udp) {
      send_udp();
    } else {
      send_tcp();
    }
    ++messages_;
  }
  start_message();
  if (transport_ == Transport::Udp && messages_ % kTemplateRefresh == 0) add_templates();
}

void IpfixExporter::send_udp() {
  const ssize_t sent = fd_ < 0 ? -1 : ::send(fd_, msg_.data(), msg_.size(), MSG_NOSIGNAL);
  if (sent == ssize_t(msg_.size())) {
    records_sent_ += records_in_msg_;
    sequence_ += records_in_msg_;
  } else {
    records_dropped_ += records_in_msg_;  // not taken at once: dropped
  }
}

void IpfixExporter::send_tcp() {
  // A message goes whole or not at all after the rest of the one before: the stream stays
  // a sequence of whole messages whatever the collector's pace.
  if ((fd_ < 0 && !reconnect()) || !flush_pending()) {
    records_dropped_ += records_in_msg_;
    return;
  }
  const ssize_t sent = ::send(fd_, msg_.data(), msg_.size(), MSG_NOSIGNAL);
  if (sent == ssize_t(msg_.size())) {
    records_sent_ += records_in_msg_;
    sequence_ += records_in_msg_;
  } else if (sent > 0) {  // taken in part: the rest goes before anything else
    pending_.assign(msg_.begin() + sent, msg_.end());
    pending_records_ = records_in_msg_;
    sequence_ += records_in_msg_;
  } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
    records_dropped_ += records_in_msg_;  // window full: this message is dropped
  } else {
    records_dropped_ += records_in_msg_;
    lost();
  }
}

bool IpfixExporter::flush_pending() {
  while (!pending_.empty()) {
    const ssize_t n = ::send(fd_, pending_.data(), pending_.size(), MSG_NOSIGNAL);
    if (n > 0) {
      pending_.erase(pending_.begin(), pending_.begin() + n);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) lost();
    return false;
  }
  records_sent_ += pending_records_;
  pending_records_ = 0;
  return true;
}

void IpfixExporter::lost() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  records_dropped_ += pending_records_;
  pending_records_ = 0;
  pending_.clear();
  retry_at_ = std::chrono::steady_clock::now() + retry_delay_;
  retry_delay_ = std::min(retry_delay_ * 2, kMaxRetry);
}

bool IpfixExporter::reconnect() {
  if (addr_len_ == 0 || std::chrono::steady_clock::now() < retry_at_) return false;
  const int fd = socket(family_, socktype_ | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol_);
  bool ok = fd >= 0;
  if (ok && connect(fd, reinterpret_cast<const sockaddr*>(&addr_), addr_len_) != 0) {
    ok = false;
    if (errno == EINPROGRESS) {  // wait a little for it, in the sink's thread
      pollfd p{fd, POLLOUT, 0};
      int error = 0;
      socklen_t len = sizeof error;
      ok = poll(&p, 1, kConnectWaitMs) == 1 &&
           getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) == 0 && error == 0;
    }
  }
  if (!ok) {
    if (fd >= 0) ::close(fd);
    lost();
    return false;
  }
  fd_ = fd;
  ++reconnects_;
  retry_delay_ = kFirstRetry;
  // A new session: the templates first, in a message of their own.
  std::vector<uint8_t> data;
  data.swap(msg_);
  const std::size_t set_start = set_start_;
  const uint32_t in_msg = records_in_msg_;
  start_message();
  add_templates();
  set16(msg_, 2, uint16_t(msg_.size()));
  pending_ = msg_;  // sent by flush_pending(), before the data
  pending_records_ = 0;
  msg_.swap(data);
  set_start_ = set_start;
  records_in_msg_ = in_msg;
  return true;
}

void IpfixExporter::write(std::span<const FlowRecord> records) {
  for (const FlowRecord& r : records) {
    if (fd_ < 0 && transport_ == Transport::Udp) {
      ++records_dropped_;
      continue;
    }
    add_record(r);  // over TCP a broken connection is made again when a message is sent
  }
}

void IpfixExporter::close() {
  if (records_in_msg_ > 0 || messages_ == 0) send_message();
  if (transport_ == Transport::Tcp) {  // a slow collector gets a moment to take the rest
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(kCloseWaitMs);
    while (fd_ >= 0 && !flush_pending() && std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLOUT, 0};
      poll(&p, 1, 50);
    }
    records_dropped_ += pending_records_;
    pending_records_ = 0;
    pending_.clear();
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void IpfixExporter::report(std::vector<Report>& out) const {
  std::string line = "ipfix: " + std::to_string(records_sent_) + " records sent, " +
                     std::to_string(records_dropped_) + " dropped (collector gone or behind)";
  if (reconnects_ != 0) line += ", " + std::to_string(reconnects_) + " reconnections";
  out.push_back({std::move(line), records_dropped_ != 0});
}

}  // namespace etcpipe
