// A dataset on disk that Python loads with numpy alone: for F flows,
//   matrix.npy [F, N, L] uint8     sizes.npy [F, N] int32 (sign = direction)
//   iats.npy [F, N] float32 (s)    flags.npy [F, N] uint8    payloads.npy [F, N] int32
//   stats.npy [F, kStatCount] float32      labels.npy [F] int32 (index into meta classes)
//   flows.csv  one row per flow: index, 5-tuple (client first), times, capture, label
//   meta.json  the feature spec, statistic names, classes, flows per label, counters
//   spec.json  the feature spec alone (to travel with a model trained on the dataset)
// Arrays the spec does not produce are not written.
#pragma once

#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dataset/labels.hpp"
#include "dataset/npy.hpp"
#include "features/extractor.hpp"

namespace etcpipe {

class DatasetWriter final : public FeatureSink {
 public:
  // Creates `dir` if need be. `labeler` may be null (every flow kept, label "").
  DatasetWriter(const std::string& dir, const FeatureSpec& spec, Labeler* labeler);
  ~DatasetWriter() override;

  void set_capture(const std::string& path) { capture_ = path; }
  void write(const FeatureBatch& batch) override;
  // Finishes every file; `extra` goes into meta.json as is.
  void close(const nlohmann::json& extra);

  uint64_t flows() const { return labels_.size(); }
  uint64_t unlabeled() const { return unlabeled_; }
  // Flows written per label.
  std::map<std::string, uint64_t> per_label() const;

 private:
  std::string dir_;
  FeatureSpec spec_;
  Labeler* labeler_;
  std::string capture_;
  std::vector<std::unique_ptr<NpyWriter>> arrays_;  // in the order write() appends
  std::ofstream csv_;
  std::vector<std::string> classes_;  // in order of first appearance
  std::map<std::string, int32_t> class_index_;
  std::vector<int32_t> labels_;
  uint64_t unlabeled_ = 0;
};

}  // namespace etcpipe
