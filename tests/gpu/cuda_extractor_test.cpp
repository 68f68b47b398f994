// The batch extractor on a CUDA GPU gives the reference extractor's rows, byte for byte.
// Skipped (with a message) where no CUDA device is present.
#include <gtest/gtest.h>

#include <filesystem>

#include "capture/pcap_source.hpp"
#include "feature_rows.hpp"
#include "features/cuda_batch_extractor.hpp"
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

TEST(CudaBatchExtractor, SameRowsAsTheReference) {
  if (!CudaBatchExtractor::available()) GTEST_SKIP() << "no CUDA device: GPU test skipped";
  FeatureSpec yatc = FeatureSpec::preset("yatc");
  yatc.addresses = Anonymize::Random;
  uint64_t rows = 0;
  for (const FeatureSpec& spec : {FeatureSpec{}, yatc}) {
    for (const auto& file : captures()) {
      if (file.ends_with(".md")) continue;
      PcapFileSource source({file}, "", [](const std::string&) {});
      FlowPipelineConfig cfg;
      cfg.select_snaplen = 2048;
      cfg.table.max_flows = 1 << 16;
      cfg.table.select.packets = spec.packets;
      test::KeepingSink ref_rows, gpu_rows;
      SinkOutput ref_out(spec, ref_rows), gpu_out(spec, gpu_rows);
      ReferenceExtractor ref(spec, 8192, ref_out);
      CudaBatchExtractor gpu(spec, 8192, 1, cfg.table.max_flows, gpu_out);
      RunOptions opts;
      opts.on_selected = [&](const SelectedBatch& b) {
        ref.add(b);
        gpu.add(b);
      };
      NoRecords records;
      run_flows(source, cfg, records, opts);
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

}  // namespace
}  // namespace etcpipe
