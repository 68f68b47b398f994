// Several sinks as one (--output given more than once).
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "export/sink.hpp"

namespace etcpipe {

class FanoutSink final : public FlowSink {
 public:
  void add(std::unique_ptr<FlowSink> sink) { sinks_.push_back(std::move(sink)); }
  void write(std::span<const FlowRecord> records) override {
    for (auto& s : sinks_) s->write(records);
  }
  void summary(const std::string& stats_json) override {
    for (auto& s : sinks_) s->summary(stats_json);
  }
  // Closes every sink; then throws the first error, if any.
  void close() override {
    std::string error;
    for (auto& s : sinks_) {
      try {
        s->close();
      } catch (const std::exception& e) {
        if (error.empty()) error = e.what();
      }
    }
    if (!error.empty()) throw std::runtime_error(error);
  }

 private:
  std::vector<std::unique_ptr<FlowSink>> sinks_;
};

}  // namespace etcpipe
