#include "monitor/http_server.hpp"

#include <httplib.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "export/outputs.hpp"

namespace etcpipe {
namespace {
constexpr std::size_t kThreads = 32;
}  // namespace

struct HttpServer::Impl {
  httplib::Server server;
  std::thread thread;
};

HttpServer::HttpServer(const std::string& addr_port, const std::string& option,
                       std::vector<Route> routes)
    : impl_(std::make_unique<Impl>()) {
  const auto colon = addr_port.rfind(':');
  if (colon == std::string::npos || colon + 1 == addr_port.size()) {
    throw std::runtime_error(option + " " + addr_port + ": expected ADDR:PORT");
  }
  std::string host = addr_port.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) host = "0.0.0.0";  // :PORT: every address
  const int port = parse_port(addr_port.substr(colon + 1), option + " " + addr_port);
  httplib::Server& server = impl_->server;
  for (Route& r : routes) {
    const std::string path = r.path;  // r is moved into its handler
    server.Get(path, [r = std::move(r)](const httplib::Request&, httplib::Response& res) {
      res.set_header("Cache-Control", "no-store");
      res.set_content(r.body(), r.content_type);
    });
  }
  // A client that connects and sends nothing holds a server thread until a timeout: keep
  // them short, and threads enough that a few idle clients do not starve a scraper.
  server.new_task_queue = [] { return new httplib::ThreadPool(kThreads); };
  server.set_read_timeout(1, 0);
  server.set_write_timeout(1, 0);
  server.set_keep_alive_timeout(1);
  errno = 0;
  if (!server.bind_to_port(host, port)) {
    const int error = errno;  // bind's or listen's, when it got that far
    throw std::runtime_error(option + " " + addr_port + ": cannot listen there" +
                             (error != 0 ? std::string(": ") + std::strerror(error) : ""));
  }
  impl_->thread = std::thread([&server] { server.listen_after_bind(); });
  // stop() does nothing to a server not yet listening: a run that fails right after this
  // (a bad output) would wait for it forever in the destructor.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!server.is_running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

HttpServer::~HttpServer() {
  impl_->server.stop();
  impl_->thread.join();
}

MetricsServer::MetricsServer(const std::string& addr_port)
    : body_(format_prometheus(RunStats{})),  // all zero until the first snapshot
      server_(addr_port, "--metrics", {{"/metrics", "text/plain; version=0.0.4", [this] {
                                          std::lock_guard lock(mu_);
                                          return body_;
                                        }}}) {}

void MetricsServer::update(const RunStats& s, const std::string& extra) {
  std::string body = format_prometheus(s) + extra;
  std::lock_guard lock(mu_);
  body_.swap(body);
}

}  // namespace etcpipe
