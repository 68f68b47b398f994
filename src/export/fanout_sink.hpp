// Several sinks as one (--output given more than once). A sink that fails is set aside
// (its error kept) and the others go on; close() closes them all, then reports it.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "export/sink.hpp"

namespace etcpipe {

class FanoutSink final : public FlowSink {
 public:
  void add(std::unique_ptr<FlowSink> sink) { sinks_.push_back({std::move(sink), false}); }
  void write(std::span<const FlowRecord> records) override {
    each([&](FlowSink& s) { s.write(records); });
  }
  // Text is made elsewhere only for a single text sink. (Called from another thread than
  // write(): it reads nothing write() changes, not even `failed`; a failed sink is skipped
  // by write_text.)
  bool format(std::span<const FlowRecord> records, fmt::memory_buffer& out) const override {
    return sinks_.size() == 1 && sinks_[0].sink->format(records, out);
  }
  void write_text(std::string_view text) override {
    each([&](FlowSink& s) { s.write_text(text); });
  }
  void summary(const std::string& stats_json) override {
    each([&](FlowSink& s) { s.summary(stats_json); });
  }
  // Closes every sink still working; then throws the first error, if any.
  void close() override {
    each([](FlowSink& s) { s.close(); });
    if (!error_.empty()) throw std::runtime_error(error_);
  }
  void report(std::vector<Report>& out) const override {
    for (const Entry& e : sinks_) e.sink->report(out);
  }

 private:
  struct Entry {
    std::unique_ptr<FlowSink> sink;
    bool failed;
  };
  template <class F>
  void each(F&& f) {
    for (Entry& e : sinks_) {
      if (e.failed) continue;
      try {
        f(*e.sink);
      } catch (const std::exception& ex) {
        e.failed = true;
        if (error_.empty()) error_ = ex.what();
      }
    }
  }

  std::vector<Entry> sinks_;
  std::string error_;
};

}  // namespace etcpipe
