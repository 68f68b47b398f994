#include "export/jsonl_writer.hpp"

#include "export/record_fields.hpp"

namespace etcpipe {

void JsonlWriter::format(const FlowRecord& r, fmt::memory_buffer& out, bool verdicts) {
  struct Json {
    fmt::memory_buffer& out;
    char sep = '{';
    void name(std::string_view n) {
      out.push_back(sep);
      sep = ',';
      fmt::format_to(std::back_inserter(out), "\"{}\":", n);
    }
    void text(std::string_view n, std::string_view v) {
      name(n);
      fmt::format_to(std::back_inserter(out), "\"{}\"", v);  // values never need escaping
    }
    void number(std::string_view n, uint64_t v) {
      name(n);
      fmt::format_to(std::back_inserter(out), "{}", v);
    }
    void time(std::string_view n, uint64_t ns) {
      name(n);
      append_time(out, ns);
    }
    void real(std::string_view n, double v) {
      name(n);
      fmt::format_to(std::back_inserter(out), "{:.6g}", v);
    }
    void null(std::string_view n) {
      name(n);
      out.append(std::string_view("null"));
    }
  };
  visit_record(r, Json{out}, verdicts);
  out.push_back('}');
}

void JsonlWriter::write(std::span<const FlowRecord> records) {
  for (const FlowRecord& r : records) {
    format(r, out_.buffer(), verdicts_);
    out_.buffer().push_back('\n');
    out_.flush_if_full();
  }
}

}  // namespace etcpipe
