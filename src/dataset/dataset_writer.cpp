#include "dataset/dataset_writer.hpp"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "export/format.hpp"

namespace etcpipe {

namespace fs = std::filesystem;

namespace {
std::string csv_cell(const std::string& s) {  // quoted if it holds a comma or a quote
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

void write_json(const fs::path& path, const nlohmann::json& j) {
  std::ofstream out(path);
  out << j.dump(2) << '\n';
  if (!out) throw std::runtime_error(path.string() + ": cannot write");
}
}  // namespace

DatasetWriter::DatasetWriter(const std::string& dir, const FeatureSpec& spec, Labeler* labeler)
    : dir_(dir), spec_(spec), labeler_(labeler) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) throw std::runtime_error("cannot create " + dir_ + ": " + ec.message());
  const fs::path d(dir_);
  const uint64_t n = spec.packets;
  auto array = [&](const char* name, const char* descr, std::vector<uint64_t> shape,
                   std::size_t item) {
    arrays_.push_back(
        std::make_unique<NpyWriter>((d / name).string(), descr, std::move(shape), item));
  };
  if (spec.matrix) array("matrix.npy", "|u1", {n, spec.bytes}, 1);
  if (spec.sequences) {
    array("sizes.npy", "<i4", {n}, 4);
    array("iats.npy", "<f4", {n}, 4);
    array("flags.npy", "|u1", {n}, 1);
    array("payloads.npy", "<i4", {n}, 4);
  }
  if (spec.statistics) array("stats.npy", "<f4", {kStatCount}, 4);
  csv_.open(d / "flows.csv");
  if (!csv_) throw std::runtime_error("cannot create " + (d / "flows.csv").string());
  csv_ << "index,src,sport,dst,dport,proto,vlan,first_ns,last_ns,packets,capture,label\n";
  write_json(d / "spec.json", spec.to_json());
}

DatasetWriter::~DatasetWriter() = default;

void DatasetWriter::write(const FeatureBatch& b) {
  for (uint32_t r = 0; r < b.size(); ++r) {
    const FlowInfo& f = b.info(r);
    std::string label;
    if (labeler_ != nullptr) {
      auto l = labeler_->label(capture_, f);
      if (!l) {
        ++unlabeled_;
        continue;
      }
      label = std::move(*l);
    }
    auto [it, added] = class_index_.emplace(label, int32_t(classes_.size()));
    if (added) classes_.push_back(label);
    std::size_t a = 0;
    if (spec_.matrix) arrays_[a++]->append(b.matrix(r), 1);
    if (spec_.sequences) {
      arrays_[a++]->append(b.sizes(r), 1);
      arrays_[a++]->append(b.iats(r), 1);
      arrays_[a++]->append(b.flags(r), 1);
      arrays_[a++]->append(b.payloads(r), 1);
    }
    if (spec_.statistics) arrays_[a++]->append(b.stats(r), 1);
    const PacketTuple& t = f.tuple;
    char src[64], dst[64];
    csv_ << labels_.size() << ',' << format_ip(t.src, t.ip_version, src) << ',' << t.sport << ','
         << format_ip(t.dst, t.ip_version, dst) << ',' << t.dport << ',' << int(t.proto) << ','
         << t.vlan << ',' << f.first_ns << ',' << f.last_ns << ',' << f.packets << ','
         << csv_cell(capture_) << ',' << csv_cell(label) << '\n';
    labels_.push_back(it->second);
  }
}

std::map<std::string, uint64_t> DatasetWriter::per_label() const {
  std::map<std::string, uint64_t> m;
  for (int32_t l : labels_) ++m[classes_[std::size_t(l)]];
  return m;
}

void DatasetWriter::close(const nlohmann::json& extra) {
  for (auto& a : arrays_) a->close();
  csv_.close();
  if (!csv_) throw std::runtime_error(dir_ + "/flows.csv: cannot write");
  // Classes sorted by name; labels renumbered to match.
  std::vector<std::string> sorted = classes_;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int32_t> remap(classes_.size());
  for (std::size_t i = 0; i < classes_.size(); ++i) {
    remap[i] =
        int32_t(std::lower_bound(sorted.begin(), sorted.end(), classes_[i]) - sorted.begin());
  }
  std::vector<int32_t> labels(labels_.size());
  for (std::size_t i = 0; i < labels_.size(); ++i) labels[i] = remap[std::size_t(labels_[i])];
  NpyWriter l((fs::path(dir_) / "labels.npy").string(), "<i4", {}, 4);
  l.append(labels.data(), labels.size());
  l.close();

  nlohmann::ordered_json meta;
  meta["flows"] = labels_.size();
  meta["spec"] = spec_.to_json();
  meta["classes"] = sorted;
  meta["flows_per_label"] = per_label();
  meta["unlabeled_flows_left_out"] = unlabeled_;
  meta["stat_names"] = stat_names();
  nlohmann::ordered_json files = nlohmann::ordered_json::array();
  for (const char* f : {"matrix.npy", "sizes.npy", "iats.npy", "flags.npy", "payloads.npy",
                        "stats.npy", "labels.npy", "flows.csv"}) {
    if (fs::exists(fs::path(dir_) / f)) files.push_back(f);
  }
  meta["files"] = files;
  for (const auto& [k, v] : extra.items()) meta[k] = v;
  write_json(fs::path(dir_) / "meta.json", meta);
}

}  // namespace etcpipe
