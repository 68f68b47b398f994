#include "export/csv_writer.hpp"

#include "export/record_fields.hpp"

namespace etcpipe {

CsvWriter::CsvWriter(const std::string& path, bool verdicts) : out_(path), verdicts_(verdicts) {
  char sep = 0;
  visit_record_names(
      [&](std::string_view n) {
        if (sep != 0) out_.buffer().push_back(sep);
        sep = ',';
        out_.buffer().append(n);
      },
      verdicts_);
  out_.buffer().push_back('\n');
}

bool CsvWriter::format(std::span<const FlowRecord> records, fmt::memory_buffer& out) const {
  struct Csv {
    fmt::memory_buffer& out;
    bool first = true;
    void sep() {
      if (!first) out.push_back(',');
      first = false;
    }
    void text(std::string_view, std::string_view v) {
      sep();
      out.append(v);
    }
    void number(std::string_view, uint64_t v) {
      sep();
      fmt::format_to(std::back_inserter(out), "{}", v);
    }
    void time(std::string_view, uint64_t ns) {
      sep();
      append_time(out, ns);
    }
    void real(std::string_view, double v) {
      sep();
      fmt::format_to(std::back_inserter(out), "{:.6g}", v);
    }
    void null(std::string_view) { sep(); }
  };
  for (const FlowRecord& r : records) {
    visit_record(r, Csv{out}, verdicts_);
    out.push_back('\n');
  }
  return true;
}

void CsvWriter::write(std::span<const FlowRecord> records) {
  format(records, out_.buffer());
  out_.flush_if_full();
}

}  // namespace etcpipe
