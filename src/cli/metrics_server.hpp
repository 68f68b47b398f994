// --metrics ADDR:PORT: the run's counters in Prometheus' text format at /metrics, served
// over HTTP by cpp-httplib (Debian's libcpp-httplib-dev) from a thread of its own, from the
// latest statistics snapshot (taken about once a second by the run loop).
#pragma once

#include <memory>
#include <string>

#include "pipeline/run_stats.hpp"

namespace etcpipe::cli {

class MetricsServer {
 public:
  // Binds ADDR:PORT and starts serving; throws std::runtime_error if it cannot bind.
  explicit MetricsServer(const std::string& addr_port);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  void update(const RunStats& s);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace etcpipe::cli
