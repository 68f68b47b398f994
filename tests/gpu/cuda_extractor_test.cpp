// The batch extractor on a CUDA GPU gives the reference extractor's rows, byte for byte.
// Skipped (with a message) where no CUDA device is present.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <tuple>

#include "capture/pcap_source.hpp"
#include "feature_rows.hpp"
#include "features/cuda_batch_extractor.hpp"
#include "infer/model.hpp"
#include "pipeline/run.hpp"

namespace etcpipe {
namespace {

namespace fs = std::filesystem;

class NoRecords final : public FlowSink {
 public:
  void write(std::span<const FlowRecord>) override {}
  void close() override {}
};

std::vector<std::string> captures() {
  std::vector<std::string> files = expand_capture_paths({ETCPIPE_SAMPLES});
  if (fs::is_directory(ETCPIPE_SHARED_DATA "/ndpi/pcap")) {
    for (const auto& f : expand_capture_paths({ETCPIPE_SHARED_DATA "/ndpi/pcap"})) {
      files.push_back(f);
    }
  }
  return files;
}

constexpr uint32_t kSlots = 1 << 16;  // flow-table slots
constexpr uint32_t kRows = 8192;      // rows of each extractor

// Runs a capture through the flow stage; its selected packets (the first `packets` of each
// flow) go to `feed`.
void select_from(const std::string& file, uint32_t packets,
                 const std::function<void(const SelectedBatch&)>& feed) {
  PcapFileSource source({file}, "", [](const std::string&) {});
  FlowPipelineConfig cfg;
  cfg.select_snaplen = 2048;
  cfg.table.max_flows = kSlots;
  cfg.table.select.packets = packets;
  RunOptions opts;
  opts.on_selected = feed;
  NoRecords records;
  run_flows(source, cfg, records, opts);
}

TEST(CudaBatchExtractor, SameRowsAsTheReference) {
  if (!CudaBatchExtractor::available()) GTEST_SKIP() << "no CUDA device: GPU test skipped";
  FeatureSpec yatc = FeatureSpec::preset("yatc");
  yatc.addresses = Anonymize::Random;
  uint64_t rows = 0;
  for (const FeatureSpec& spec : {FeatureSpec{}, yatc}) {
    for (const auto& file : captures()) {
      if (file.ends_with(".md")) continue;
      test::KeepingSink ref_rows, gpu_rows;
      SinkOutput ref_out(spec, ref_rows), gpu_out(spec, gpu_rows);
      ReferenceExtractor ref(spec, kRows, ref_out);
      CudaBatchExtractor gpu(spec, kRows, 1, kSlots, gpu_out);
      select_from(file, spec.packets, [&](const SelectedBatch& b) {
        ref.add(b);
        gpu.add(b);
      });
      ref.finish();
      gpu.finish();
      EXPECT_EQ(gpu_rows.canonical(), ref_rows.canonical()) << file;
      EXPECT_EQ(gpu.stats().packets, ref.stats().packets) << file;
      EXPECT_EQ(gpu.stats().flows, ref.stats().flows) << file;
      rows += ref_rows.rows.size();
    }
  }
  std::cout << rows << " rows compared\n";
}

// Rows handed to the TorchScript engine on the GPU where the CUDA extractor made them (no
// copy) get the probabilities the engine on the CPU gives the same rows copied back. Needs a
// GPU, a libtorch with CUDA and a TorchScript model reading no statistics, whose directory
// ETCPIPE_GPU_TEST_MODEL names (scripts/gpu_check.sh trains one).
TEST(CudaBatchExtractor, DeviceRowsGoToTheCudaEngineWhereTheyAre) {
  if (!CudaBatchExtractor::available()) GTEST_SKIP() << "no CUDA device: GPU test skipped";
  const char* dir = std::getenv("ETCPIPE_GPU_TEST_MODEL");
  if (dir == nullptr || *dir == 0)
    GTEST_SKIP() << "ETCPIPE_GPU_TEST_MODEL not set: GPU test skipped";
  const Model model = Model::load(dir);
  const std::unique_ptr<Engine> gpu = model.make_engine(Device::Cuda);
  const std::unique_ptr<Engine> cpu = model.make_engine(Device::Cpu);
  const auto classes = static_cast<uint32_t>(model.classes.size());
  using Key = std::tuple<uint16_t, uint32_t, uint64_t>;  // worker, slot, first packet
  std::map<Key, std::vector<float>> on_device, on_host;
  auto keep = [&](std::map<Key, std::vector<float>>& to, const FlowInfo& info, const float* p) {
    to[{info.worker, info.slot, info.first_ns}].assign(p, p + classes);
  };

  class HostScores final : public FeatureSink {
   public:
    explicit HostScores(std::function<void(const FeatureBatch&)> f) : f_(std::move(f)) {}
    void write(const FeatureBatch& b) override { f_(b); }

   private:
    std::function<void(const FeatureBatch&)> f_;
  };
  FeatureRows copy(model.spec, FeatureBatch::kCapacity);
  std::vector<float> scores(std::size_t{FeatureBatch::kCapacity} * classes);
  HostScores host([&](const FeatureBatch& b) {
    for (uint32_t k = 0; k < b.size(); ++k) {
      std::memcpy(copy.matrix(k), b.matrix(k), copy.row_bytes());
      std::copy_n(b.sizes(k), copy.n(), copy.sizes(k));
      std::copy_n(b.iats(k), copy.n(), copy.iats(k));
      std::copy_n(b.flags(k), copy.n(), copy.flags(k));
      std::copy_n(b.payloads(k), copy.n(), copy.payloads(k));
      std::copy_n(b.stats(k), kStatCount, copy.stats(k));
    }
    cpu->infer(copy, b.size(), scores.data());
    for (uint32_t k = 0; k < b.size(); ++k) keep(on_host, b.info(k), &scores[k * classes]);
  });
  test::KeepingSink unused;
  uint64_t compared = 0;
  for (const auto& file : captures()) {
    if (file.ends_with(".md")) continue;
    SinkOutput host_out(model.spec, host), unused_out(model.spec, unused);
    CudaBatchExtractor copied(model.spec, kRows, 1, kSlots, host_out);
    CudaBatchExtractor in_place(model.spec, kRows, 1, kSlots, unused_out);
    std::vector<float> device_scores;
    in_place.set_device_rows([&](const RowsView& rows, const FlowInfo* info, uint32_t n) {
      device_scores.resize(std::size_t{n} * classes);
      gpu->infer_device(rows, n, device_scores.data());
      for (uint32_t i = 0; i < n; ++i) keep(on_device, info[i], &device_scores[i * classes]);
    });
    select_from(file, model.spec.packets, [&](const SelectedBatch& b) {
      copied.add(b);
      in_place.add(b);
    });
    copied.finish();
    in_place.finish();
    EXPECT_TRUE(unused.rows.empty());
    ASSERT_EQ(on_device.size(), on_host.size()) << file;
    for (const auto& [key, p] : on_host) {
      const auto it = on_device.find(key);
      ASSERT_NE(it, on_device.end()) << file;
      for (uint32_t c = 0; c < classes; ++c) EXPECT_NEAR(it->second[c], p[c], 1e-4) << file;
    }
    compared += on_host.size();
    on_device.clear();
    on_host.clear();
  }
  std::cout << compared << " flows classified on the device rows and on their host copies\n";
}

}  // namespace
}  // namespace etcpipe
