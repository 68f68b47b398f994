// The mysql output's URI (mysql_writer.hpp): parsed here whether or not libmariadb is built in.
#include <cstdlib>
#include <stdexcept>

#include "export/mysql_writer.hpp"
#include "export/outputs.hpp"

namespace etcpipe {
namespace {

constexpr const char* kForm = "expected mysql://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?socket=PATH]";

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string decode(std::string_view s, const std::string& what) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    const int hi = i + 2 < s.size() ? hex_digit(s[i + 1]) : -1;
    const int lo = hi >= 0 ? hex_digit(s[i + 2]) : -1;
    if (lo < 0) throw std::runtime_error(what + ": bad percent escape");
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

}  // namespace

MysqlUri parse_mysql_uri(const std::string& target) {
  std::string_view t = target;
  if (t.starts_with("mysql:")) t.remove_prefix(6);
  const std::string what = hide_passwords("--output mysql:" + std::string(t));
  if (!t.starts_with("//")) throw std::runtime_error(what + ": " + kForm);
  t.remove_prefix(2);
  const auto last_at = t.rfind('@', t.find('?'));  // a PASSWORD may hold '/' and '@'
  const auto slash = t.find('/', last_at == std::string_view::npos ? 0 : last_at);
  if (slash == std::string_view::npos) throw std::runtime_error(what + ": no DATABASE; " + kForm);
  std::string_view authority = t.substr(0, slash);
  std::string_view path = t.substr(slash + 1);
  MysqlUri u;
  if (const auto q = path.find('?'); q != std::string_view::npos) {
    std::string_view query = path.substr(q + 1);
    path = path.substr(0, q);
    if (!query.starts_with("socket=") || query.size() == 7 || query.find('&') != query.npos) {
      throw std::runtime_error(what + ": the one query parameter is socket=PATH");
    }
    u.socket = decode(query.substr(7), what);
  }
  u.database = decode(path, what);
  if (u.database.empty()) throw std::runtime_error(what + ": no DATABASE; " + kForm);
  const auto at = authority.rfind('@');
  if (at == std::string_view::npos) throw std::runtime_error(what + ": no USER; " + kForm);
  std::string_view userinfo = authority.substr(0, at);
  std::string_view hostport = authority.substr(at + 1);
  const auto colon = userinfo.find(':');
  u.user = decode(userinfo.substr(0, colon), what);
  if (u.user.empty()) throw std::runtime_error(what + ": no USER; " + kForm);
  if (colon != std::string_view::npos) {
    u.password = decode(userinfo.substr(colon + 1), what);
  } else if (const char* env = std::getenv("MYSQL_PWD")) {
    u.password = env;
  }
  std::string_view port;
  if (hostport.starts_with('[')) {  // [IPv6 address]
    const auto close = hostport.find(']');
    if (close == std::string_view::npos) throw std::runtime_error(what + ": unclosed [");
    u.host = decode(hostport.substr(1, close - 1), what);  // a zone: %25eth0
    hostport.remove_prefix(close + 1);
    if (hostport.starts_with(':'))
      port = hostport.substr(1);
    else if (!hostport.empty())
      throw std::runtime_error(what + ": " + kForm);
  } else {
    const auto c = hostport.rfind(':');
    u.host = decode(hostport.substr(0, c), what);
    if (c != std::string_view::npos) port = hostport.substr(c + 1);
  }
  if (u.host.empty() && u.socket.empty()) {
    throw std::runtime_error(what + ": no HOST (or ?socket=PATH); " + kForm);
  }
  if (!port.empty() || hostport.ends_with(':')) u.port = parse_port(std::string(port), what);
  return u;
}

}  // namespace etcpipe
