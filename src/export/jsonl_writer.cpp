#include "export/jsonl_writer.hpp"

#include <cstring>

#include "export/record_fields.hpp"

namespace etcpipe {

namespace {
// Writes one record's object straight into reserved space: the layout is fixed (the names
// of record_fields.hpp, numbers, times and names that never need escaping), so each field
// is a copy of its quoted name and a hand-written number, no format string to interpret.
// The verdict's floats still go through fmt ("{:.6g}").
struct Json {
  char* p;
  char sep = '{';
  void name(std::string_view n) {
    *p++ = sep;
    sep = ',';
    *p++ = '"';
    std::memcpy(p, n.data(), n.size());
    p += n.size();
    *p++ = '"';
    *p++ = ':';
  }
  void text(std::string_view n, std::string_view v) {
    name(n);
    *p++ = '"';
    std::memcpy(p, v.data(), v.size());
    p += v.size();
    *p++ = '"';
  }
  void number(std::string_view n, uint64_t v) {
    name(n);
    p = write_decimal(p, v);
  }
  void time(std::string_view n, uint64_t ns) {
    name(n);
    p = write_time(p, ns);
  }
  void real(std::string_view n, double v) {
    name(n);
    p = fmt::format_to(p, "{:.6g}", v);
  }
  void null(std::string_view n) {
    name(n);
    std::memcpy(p, "null", 4);
    p += 4;
  }
};
// Room for a record: names and punctuation (~300 bytes), two IPv6 addresses, numbers of
// at most 20 digits, and the verdict's label.
constexpr std::size_t kMaxRecordBytes = 1024;
}  // namespace

void JsonlWriter::format(const FlowRecord& r, fmt::memory_buffer& out, bool verdicts) {
  const std::size_t used = out.size();
  const std::size_t label = verdicts && r.label != nullptr ? std::strlen(r.label) : 0;
  out.resize(used + kMaxRecordBytes + label);
  Json json{out.data() + used};
  visit_record(r, json, verdicts);
  *json.p++ = '}';
  out.resize(static_cast<std::size_t>(json.p - out.data()));
}

void JsonlWriter::write(std::span<const FlowRecord> records) {
  for (const FlowRecord& r : records) {
    format(r, out_.buffer(), verdicts_);
    out_.buffer().push_back('\n');
    out_.flush_if_full();
  }
}

}  // namespace etcpipe
