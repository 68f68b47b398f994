#include "session/extract_session.hpp"

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "capture/pcap_source.hpp"
#include "dataset/dataset_writer.hpp"
#include "features/consumer_extractor.hpp"
#include "pipeline/run.hpp"
#include "session/flow_session.hpp"

namespace etcpipe {
namespace {

std::unique_ptr<Labeler> make_labeler(const LabelConfig& l) {
  if (!l.csv.empty()) return csv_labels(l.csv);
  if (l.dirs) return directory_labels();
  if (!l.ndpi.empty()) return ndpi_labels(l.ndpi, l.ndpi_options);
  return nullptr;
}

void add(ExtractResult& t, const RunStats& s) {
  t.unbalanced += !s.accounting_balanced();
  t.interrupted |= s.interrupted;
  t.stats.source.packets += s.source.packets;
  t.stats.source.kernel_drops += s.source.kernel_drops;
  t.stats.flows.created += s.flows.created;
  t.stats.selected.copied += s.selected.copied;
  t.stats.selected.copy_dropped += s.selected.copy_dropped;
  t.stats.features.add(s.features);
  ++t.runs;
}

}  // namespace

ExtractResult run_extract_session(const ExtractConfig& c, const ExtractHooks& hooks) {
  c.input.require_some();
  const FeatureSpec spec = c.spec.make();
  FlowPipelineConfig cfg = c.pipeline;
  if (c.snaplen_from_spec) cfg.select_snaplen = snaplen_for(spec);
  cfg.table.select.packets = spec.packets;
  cfg.feature_rows = c.feature_rows;
  if (c.extractor == ExtractorKind::Streaming) cfg.streaming = spec;
  const bool live = c.input.live.live();
  ExtractResult t;
  if (live && (c.labels.dirs || !c.labels.ndpi.empty())) {
    throw std::runtime_error(
        "--labels-from-dirs and --labels-ndpi label captures: with -i, give --labels-csv "
        "with 5-tuples");
  }
  Inputs in = open_inputs(c.input, hooks.warn, hooks.note);
  t.unreadable = in.skipped;
  // Live: fewer workers where a device has fewer queues.
  const unsigned workers = live ? static_cast<unsigned>(in.live.queues.size()) : c.input.workers;
  const auto labeler = make_labeler(c.labels);
  DatasetWriter dataset(c.output, spec, labeler.get());
  SinkOutput out(spec, dataset);
  // The consumer-side extractor, if any: selected batches in, rows to the dataset.
  const std::unique_ptr<ConsumerExtractor> extractor =
      make_consumer_extractor(c.extractor, spec, c.feature_rows, workers,
                              per_worker_capacity(cfg.table.max_flows, workers), out);

  const auto start = std::chrono::steady_clock::now();
  NullSink records;
  RunOptions ro;
  ro.workers = workers;
  if (extractor) {
    ro.on_selected = [&extractor](const SelectedBatch& b) { extractor->add(b); };
  }
  ro.on_features = [&](const FeatureBatch& b) { dataset.write(b); };
  auto account = [&](const RunStats& s) {
    if (extractor) extractor->finish();
    add(t, s);
  };
  if (live) {  // one run over the interfaces, until the stop flag, the duration or the count
    dataset.set_capture("live:" + join(c.input.live.interfaces));
    ro.lossless = false;  // the link does not wait: dropped copies and rows are counted
    if (hooks.progress) {
      ro.on_tick = [&](const RunStats& s) { hooks.progress({s, true, 0, 0, dataset.flows()}); };
    }
    account(run_flows(in.live.queues, cfg, records, ro));
  }
  for (const std::string& file : in.files) {
    if (c.input.stop && c.input.stop->load()) {
      t.interrupted = true;
      break;
    }
    PcapFileSource source({file}, c.input.filter, hooks.warn);
    dataset.set_capture(file);
    ro.stop = c.input.stop;
    if (hooks.progress) {
      ro.on_tick = [&](const RunStats& s) {
        hooks.progress({s, false, t.runs, in.files.size(), dataset.flows()});
      };
    }
    const RunStats s = run_flows(source, cfg, records, ro);
    t.unreadable += source.open_failures() + s.source.read_errors;
    account(s);
    if (ro.on_tick) ro.on_tick(s);
  }
  t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  t.features = extractor ? extractor->stats() : t.stats.features;
  t.device = extractor ? extractor->device() : "cpu";
  nlohmann::json extra = {{"extractor", extractor_name(c.extractor)},
                          {"extractor_device", t.device},
                          {"captures", t.runs},
                          {"packets", t.stats.source.packets},
                          {"kernel_drops", t.stats.source.kernel_drops},
                          {"flows_tracked", t.stats.flows.created},
                          {"rows_full", t.features.rows_full},
                          {"rows_dropped", t.features.output_dropped},
                          {"copies_dropped", t.stats.selected.copy_dropped}};
  dataset.close(extra);
  t.labelled = labeler != nullptr;
  t.flows = dataset.flows();
  t.unlabeled = dataset.unlabeled();
  t.per_label = dataset.per_label();
  return t;
}

}  // namespace etcpipe
