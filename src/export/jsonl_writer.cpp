#include "export/jsonl_writer.hpp"

#include <cstring>

#include "export/record_fields.hpp"

namespace etcpipe {

namespace {
// Writes one record's object straight into reserved space: the layout is fixed (the names
// of record_fields.hpp, numbers, times and names that never need escaping), so each field
// is a copy of its quoted name and a hand-written number, no format string to interpret.
// Each call loads the write position once and stores it once: bytes stored through a char*
// may alias it, so writing through the member would reload it after every byte. Every field
// starts with a comma; format() turns the first one into the opening brace.
// The verdict's floats still go through fmt ("{:.6g}").
struct Json {
  char* p;
  static char* name(char* q, std::string_view n) {
    q[0] = ',';
    q[1] = '"';
    std::memcpy(q + 2, n.data(), n.size());
    q += 2 + n.size();
    q[0] = '"';
    q[1] = ':';
    return q + 2;
  }
  void text(std::string_view n, std::string_view v) {
    char* q = name(p, n);
    *q++ = '"';
    std::memcpy(q, v.data(), v.size());
    q += v.size();
    *q = '"';
    p = q + 1;
  }
  void number(std::string_view n, uint64_t v) { p = write_decimal(name(p, n), v); }
  void time(std::string_view n, uint64_t ns) { p = write_time(name(p, n), ns); }
  void real(std::string_view n, double v) { p = fmt::format_to(name(p, n), "{:.6g}", v); }
  void null(std::string_view n) {
    char* q = name(p, n);
    std::memcpy(q, "null", 4);
    p = q + 4;
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
  out.data()[used] = '{';
  *json.p++ = '}';
  out.resize(static_cast<std::size_t>(json.p - out.data()));
}

bool JsonlWriter::format(std::span<const FlowRecord> records, fmt::memory_buffer& out) const {
  for (const FlowRecord& r : records) {
    format(r, out, verdicts_);
    out.push_back('\n');
  }
  return true;
}

void JsonlWriter::write(std::span<const FlowRecord> records) {
  format(records, out_.buffer());
  out_.flush_if_full();
}

}  // namespace etcpipe
