#include "cli/metrics_server.hpp"

#include <httplib.h>

#include <mutex>
#include <stdexcept>
#include <thread>

#include "export/outputs.hpp"

namespace etcpipe::cli {
namespace {
constexpr std::size_t kThreads = 32;
}  // namespace

struct MetricsServer::Impl {
  httplib::Server server;
  std::thread thread;
  std::mutex mu;
  std::string body;  // the latest exposition (the reader thread writes, the server reads)
};

MetricsServer::MetricsServer(const std::string& addr_port) : impl_(std::make_unique<Impl>()) {
  const auto colon = addr_port.rfind(':');
  if (colon == std::string::npos || colon + 1 == addr_port.size()) {
    throw std::runtime_error("--metrics " + addr_port + ": expected ADDR:PORT");
  }
  std::string host = addr_port.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) host = "0.0.0.0";  // :PORT: every address
  const int port = parse_port(addr_port.substr(colon + 1), "--metrics " + addr_port);
  Impl& m = *impl_;
  m.body = format_prometheus(RunStats{});  // all zero until the first snapshot
  m.server.Get("/metrics", [&m](const httplib::Request&, httplib::Response& res) {
    std::lock_guard lock(m.mu);
    res.set_content(m.body, "text/plain; version=0.0.4");
  });
  // A client that connects and sends nothing holds a server thread until a timeout: keep
  // them short, and threads enough that a few idle clients do not starve a scraper.
  m.server.new_task_queue = [] { return new httplib::ThreadPool(kThreads); };
  m.server.set_read_timeout(1, 0);
  m.server.set_write_timeout(1, 0);
  m.server.set_keep_alive_timeout(1);
  if (!m.server.bind_to_port(host, port)) {
    throw std::runtime_error("--metrics " + addr_port + ": cannot listen there");
  }
  m.thread = std::thread([&m] { m.server.listen_after_bind(); });
}

MetricsServer::~MetricsServer() {
  impl_->server.stop();
  impl_->thread.join();
}

void MetricsServer::update(const RunStats& s) {
  std::string body = format_prometheus(s);
  std::lock_guard lock(impl_->mu);
  impl_->body.swap(body);
}

}  // namespace etcpipe::cli
