// The small HTTP servers of a run (--metrics, --web), served by cpp-httplib (Debian's
// libcpp-httplib-dev) from threads of their own: each route's handler makes its body from the
// latest snapshot, never touching the packet path.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "pipeline/run_stats.hpp"

namespace etcpipe {

class HttpServer {
 public:
  struct Route {
    std::string path;
    std::string content_type;
    std::function<std::string()> body;  // called by a server thread
  };
  // Binds ADDR:PORT (":PORT" every address, "[IPv6]:PORT") and starts serving; throws
  // std::runtime_error naming `option` if the address is malformed or cannot be bound.
  HttpServer(const std::string& addr_port, const std::string& option, std::vector<Route> routes);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// --metrics ADDR:PORT: the run's counters in Prometheus' text format at /metrics, from the
// latest statistics snapshot (taken about once a second by the run loop).
class MetricsServer {
 public:
  explicit MetricsServer(const std::string& addr_port);
  // `extra`: more families, appended (enforcement's).
  void update(const RunStats& s, const std::string& extra = {});

 private:
  std::mutex mu_;
  std::string body_;   // the latest exposition (the run loop writes, the server reads)
  HttpServer server_;  // last: stopped before the body goes
};

}  // namespace etcpipe
