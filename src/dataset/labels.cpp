#include "dataset/labels.hpp"

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include "export/format.hpp"

namespace etcpipe {

namespace fs = std::filesystem;

std::string endpoint_string(const IpAddr& a, uint8_t ip_version, uint16_t port) {
  std::string s = ip_version == 6 ? "[" : "";
  char buf[64];
  s.append(format_ip(a, ip_version, buf));
  s.append(ip_version == 6 ? "]:" : ":");
  s.append(std::to_string(port));
  return s;
}

std::string ndpi_application(const std::string& protocol) {
  const auto dot = protocol.rfind('.');
  return dot == std::string::npos ? protocol : protocol.substr(dot + 1);
}

namespace {

std::string proto_name(uint8_t proto) {
  return proto == 6 ? "TCP" : proto == 17 ? "UDP" : std::to_string(proto);
}

// The flow's identity in either direction: "PROTO lo-endpoint hi-endpoint".
std::string flow_key(const std::string& proto, std::string a, std::string b) {
  if (b < a) std::swap(a, b);
  return proto + " " + a + " " + b;
}

std::string flow_key(const FlowInfo& f) {
  const PacketTuple& t = f.tuple;
  return flow_key(proto_name(t.proto), endpoint_string(t.src, t.ip_version, t.sport),
                  endpoint_string(t.dst, t.ip_version, t.dport));
}

std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream ss(line);
  std::string cell;
  while (std::getline(ss, cell, ',')) {
    while (!cell.empty() && (cell.back() == '\r' || cell.back() == ' ')) cell.pop_back();
    while (!cell.empty() && cell.front() == ' ') cell.erase(cell.begin());
    out.push_back(cell);
  }
  return out;
}

class CsvLabels final : public Labeler {
 public:
  explicit CsvLabels(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open label file " + path);
    std::string line;
    std::getline(in, line);
    const auto header = split_csv(line);
    by_tuple_ = header.size() == 6;
    if (!(header.size() == 2 && header[0] == "capture" && header[1] == "label") &&
        !(by_tuple_ && header[0] == "src" && header[1] == "sport" && header[2] == "dst" &&
          header[3] == "dport" && header[4] == "proto" && header[5] == "label")) {
      throw std::runtime_error(path +
                               ":1: the header must be 'capture,label' or "
                               "'src,sport,dst,dport,proto,label'");
    }
    for (int n = 2; std::getline(in, line); ++n) {
      if (line.empty() || line[0] == '#') continue;
      const auto c = split_csv(line);
      if (c.size() != header.size() || c.back().empty()) {
        throw std::runtime_error(path + ":" + std::to_string(n) + ": expected " +
                                 std::to_string(header.size()) + " fields");
      }
      if (!by_tuple_) {
        labels_.emplace(fs::path(c[0]).filename().string(), c[1]);
        labels_.emplace(c[0], c[1]);
        continue;
      }
      std::string proto = c[4];
      for (auto& ch : proto) ch = char(std::toupper(static_cast<unsigned char>(ch)));
      if (proto == "6") proto = "TCP";
      if (proto == "17") proto = "UDP";
      auto endpoint = [](const std::string& ip, const std::string& port) {
        return ip.find(':') != std::string::npos ? "[" + ip + "]:" + port : ip + ":" + port;
      };
      labels_.emplace(flow_key(proto, endpoint(c[0], c[1]), endpoint(c[2], c[3])), c[5]);
    }
  }
  std::optional<std::string> label(const std::string& capture, const FlowInfo& f) override {
    auto it = by_tuple_ ? labels_.find(flow_key(f)) : labels_.find(capture);
    if (!by_tuple_ && it == labels_.end()) it = labels_.find(fs::path(capture).filename());
    if (it == labels_.end()) return std::nullopt;
    return it->second;
  }

 private:
  bool by_tuple_ = false;
  std::unordered_map<std::string, std::string> labels_;
};

class DirectoryLabels final : public Labeler {
 public:
  std::optional<std::string> label(const std::string& capture, const FlowInfo&) override {
    const std::string dir = fs::path(capture).parent_path().filename().string();
    if (dir.empty()) return std::nullopt;
    return dir;
  }
};

class NdpiLabels final : public Labeler {
 public:
  NdpiLabels(std::string dir, NdpiLabelOptions o) : dir_(std::move(dir)), o_(o) {
    if (!fs::is_directory(dir_)) throw std::runtime_error("no nDPI result directory " + dir_);
  }
  std::optional<std::string> label(const std::string& capture, const FlowInfo& f) override {
    if (capture != loaded_) load(capture);
    const auto it = labels_.find(flow_key(f));
    if (it == labels_.end()) return std::nullopt;
    return it->second;
  }

 private:
  void load(const std::string& capture) {
    loaded_ = capture;
    labels_.clear();
    const fs::path path = fs::path(dir_) / (fs::path(capture).filename().string() + ".out");
    std::ifstream in(path);
    if (!in) return;  // no result for this capture: its flows are unlabeled
    // "\t1\tTCP a:p <-> b:q [proto: 91.178/TLS.Amazon]...[25 pkts/5636 bytes <-> 21 pkts/..."
    static const std::regex flow_line(
        R"(^\s*\d+\s+(TCP|UDP) (\S+) <?-> (\S+) \[proto: [\d.]+/([^\]]+)\])");
    static const std::regex counts(R"(\[(\d+) pkts/\d+ bytes <?-> (\d+) pkts/\d+ bytes\])");
    std::string line;
    std::smatch m, c;
    while (std::getline(in, line)) {
      if (!std::regex_search(line, m, flow_line)) continue;
      if (o_.encrypted_only && line.find("[Encrypted]") == std::string::npos) continue;
      if (o_.min_packets_each_way > 0) {
        if (!std::regex_search(line, c, counts) || std::stoul(c[1]) < o_.min_packets_each_way ||
            std::stoul(c[2]) < o_.min_packets_each_way) {
          continue;
        }
      }
      labels_.emplace(flow_key(m[1], m[2], m[3]), ndpi_application(m[4]));
    }
  }

  std::string dir_;
  NdpiLabelOptions o_;
  std::string loaded_;
  std::unordered_map<std::string, std::string> labels_;
};

}  // namespace

std::unique_ptr<Labeler> csv_labels(const std::string& path) {
  return std::make_unique<CsvLabels>(path);
}
std::unique_ptr<Labeler> directory_labels() {
  return std::make_unique<DirectoryLabels>();
}
std::unique_ptr<Labeler> ndpi_labels(const std::string& result_dir, NdpiLabelOptions o) {
  return std::make_unique<NdpiLabels>(result_dir, o);
}

}  // namespace etcpipe
