#include "export/jsonl_writer.hpp"

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "export/format.hpp"

namespace etcpipe {
namespace {
constexpr std::size_t kFlushBytes = 1 << 16;

void append_ts(fmt::memory_buffer& out, uint64_t ns) {
  fmt::format_to(std::back_inserter(out), "{}.{:09}", ns / 1'000'000'000ULL, ns % 1'000'000'000ULL);
}
}  // namespace

JsonlWriter::JsonlWriter(const std::string& path) : path_(path) {
  if (path == "-") {
    file_ = stdout;
  } else {
    file_ = std::fopen(path.c_str(), "w");
    if (file_ == nullptr) throw std::runtime_error(path + ": " + std::strerror(errno));
    owns_file_ = true;
  }
}

JsonlWriter::~JsonlWriter() {
  if (owns_file_ && file_ != nullptr) std::fclose(file_);
}

void JsonlWriter::format(const FlowRecord& r, fmt::memory_buffer& out) {
  char src[64], dst[64], proto[8];
  auto it = std::back_inserter(out);
  fmt::format_to(it, R"({{"src_ip":"{}","dst_ip":"{}","src_port":{},"dst_port":{},"proto":"{}",)",
                 format_ip(r.src, r.ip_version, src), format_ip(r.dst, r.ip_version, dst),
                 r.src_port, r.dst_port, proto_name(r.proto, proto));
  fmt::format_to(it, R"("ip_version":{},"vlan":{},"vlan_outer":{},"tunnel":"{}","tunnel_id":{},)",
                 r.ip_version, r.vlan, r.vlan_outer, tunnel_name(r.tunnel), r.tunnel_id);
  fmt::format_to(it, R"("first_ts":)");
  append_ts(out, r.first_ns);
  fmt::format_to(it, R"(,"last_ts":)");
  append_ts(out, r.last_ns);
  fmt::format_to(it,
                 R"(,"pkts_fwd":{},"pkts_rev":{},"bytes_fwd":{},"bytes_rev":{},)"
                 R"("tcp_flags_fwd":{},"tcp_flags_rev":{},"end_reason":"{}"}})",
                 r.pkts_fwd, r.pkts_rev, r.bytes_fwd, r.bytes_rev, r.tcp_flags_fwd, r.tcp_flags_rev,
                 end_reason_name(r.end_reason));
}

void JsonlWriter::write(std::span<const FlowRecord> records) {
  for (const FlowRecord& r : records) {
    format(r, buf_);
    buf_.push_back('\n');
    if (buf_.size() >= kFlushBytes) flush_buffer();
  }
}

void JsonlWriter::flush_buffer() {
  if (!failed_ && std::fwrite(buf_.data(), 1, buf_.size(), file_) != buf_.size()) failed_ = true;
  buf_.clear();
}

void JsonlWriter::close() {
  flush_buffer();
  if (std::fflush(file_) != 0) failed_ = true;
  if (failed_) throw std::runtime_error(path_ + ": write failed: " + std::strerror(errno));
}

}  // namespace etcpipe
