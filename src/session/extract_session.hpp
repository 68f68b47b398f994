// An extract run from one typed configuration: captures (one run per file, so that each row
// knows its capture) or a live capture into a labelled feature dataset.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "dataset/labels.hpp"
#include "features/extractor.hpp"
#include "pipeline/flow_pipeline.hpp"
#include "pipeline/run_stats.hpp"
#include "session/inputs.hpp"

namespace etcpipe {

// Where each flow's class comes from (at most one source); none: the dataset is unlabelled.
struct LabelConfig {
  std::string csv;    // capture,label or src,sport,dst,dport,proto,label
  bool dirs = false;  // the name of the directory holding the capture
  std::string ndpi;   // a directory of nDPI results
  NdpiLabelOptions ndpi_options;
};

struct ExtractConfig {
  InputConfig input;
  std::string output;  // the dataset directory
  FeatureSpecChoice spec;
  ExtractorKind extractor = ExtractorKind::Streaming;
  uint32_t feature_rows = 16384;  // flows whose rows are filled at once, per extractor
  LabelConfig labels;
  // The library's defaults: a dataset, not a probe (a flow table of FlowTableConfig's size).
  // Its N is the spec's.
  FlowPipelineConfig pipeline;
  bool snaplen_from_spec = true;  // the spec sets pipeline.select_snaplen (snaplen_for)
};

// Where an extraction is, about once a second and after each capture file.
struct ExtractProgress {
  const RunStats& stats;  // of the run under way
  bool live;
  std::size_t captures_done, captures;  // stats.progress: the share of the file being read
  uint64_t flows;                       // written to the dataset so far
};

struct ExtractHooks {
  Tell warn;  // an input left out or ended by a read error
  Tell note;  // how the live capture runs; null: nothing said
  std::function<void(const ExtractProgress&)> progress;  // null: not called
};

// What became of an extraction: its runs added up, and the dataset.
struct ExtractResult {
  RunStats stats;  // packets, kernel drops, flows created, copies and features of every run
  std::size_t runs = 0;
  uint64_t unbalanced = 0;   // runs whose accounting does not balance
  bool interrupted = false;  // by the stop flag: the dataset holds what was read
  uint64_t unreadable = 0;   // inputs not opened, ended by a read error, or left out
  ExtractStats features;     // of the extractor that made the rows
  std::string device;        // where it ran: cpu or cuda
  double seconds = 0;        // wall clock
  bool labelled = false;
  uint64_t flows = 0;      // written to the dataset
  uint64_t unlabeled = 0;  // left out for want of a label
  std::map<std::string, uint64_t> per_label;
};

// Runs the extraction and closes the dataset with its metadata. Throws std::runtime_error
// for a configuration that cannot run, or an input or the dataset that cannot be opened.
ExtractResult run_extract_session(const ExtractConfig& config, const ExtractHooks& hooks);

}  // namespace etcpipe
