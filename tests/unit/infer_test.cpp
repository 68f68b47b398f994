// Tree ensembles, model directories, the classifier's batching and the verdict join.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "export/record_fields.hpp"
#include "infer/classifier.hpp"
#include "infer/tree_engine.hpp"
#include "packet_builder.hpp"
#include "pipeline/flow_pipeline.hpp"
#include "session/enforcement.hpp"
#include "session/verdict_join.hpp"

namespace etcpipe {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir()
      : path_(fs::temp_directory_path() / fs::path("etcpipe-infer-" + std::to_string(::getpid()) +
                                                   "-" + std::to_string(counter_++))) {
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string file(const std::string& name, const std::string& text) const {
    const fs::path p = path_ / name;
    std::ofstream(p) << text;
    return p.string();
  }
  std::string path() const { return path_.string(); }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

// Two trees over 2 features and 3 classes: x0 <= 0.5 -> class 0, else x1 <= 10 -> class 1,
// else class 2; the second tree always says class 2.
constexpr const char* kForest = R"({"format": "etcpipe-trees/1", "kind": "forest",
  "features": 2, "classes": 3, "trees": [
   {"feature": [0, -1, 1, -1, -1], "threshold": [0.5, 0, 10, 0, 0],
    "left": [1, -1, 3, -1, -1], "right": [2, -1, 4, -1, -1],
    "value": [[], [1, 0, 0], [], [0, 1, 0], [0, 0, 1]]},
   {"feature": [-1], "threshold": [0], "left": [-1], "right": [-1], "value": [[0, 0, 1]]}]})";

TEST(TreeEnsemble, ForestAveragesTheLeavesDistributions) {
  TempDir dir;
  const TreeEnsemble t = TreeEnsemble::load(dir.file("f.json", kForest));
  EXPECT_EQ(t.features(), 2u);
  EXPECT_EQ(t.classes(), 3u);
  float p[3];
  const float a[2] = {0.5f, 0};  // <= threshold goes left
  t.predict(a, p);
  EXPECT_FLOAT_EQ(p[0], 0.5f);
  EXPECT_FLOAT_EQ(p[1], 0.0f);
  EXPECT_FLOAT_EQ(p[2], 0.5f);
  const float b[2] = {0.6f, 11};
  t.predict(b, p);
  EXPECT_FLOAT_EQ(p[2], 1.0f);
}

TEST(TreeEnsemble, BoostingIsASoftmaxOfInitPlusLeaves) {
  TempDir dir;
  const TreeEnsemble t = TreeEnsemble::load(dir.file("b.json", R"({"format": "etcpipe-trees/1",
    "kind": "boosting", "features": 1, "classes": 3, "init": [0, 1, 0], "trees": [
    {"feature": [0, -1, -1], "left": [1, -1, -1], "right": [2, -1, -1],
     "threshold": [1, 0, 0], "value": [[], [2, 0, 0], [0, 0, 0]]}]})"));
  float p[3];
  const float x[1] = {0};
  t.predict(x, p);  // scores 2, 1, 0
  const float e = std::exp(2.0f) + std::exp(1.0f) + 1.0f;
  EXPECT_NEAR(p[0], std::exp(2.0f) / e, 1e-6);
  EXPECT_NEAR(p[1], std::exp(1.0f) / e, 1e-6);
  EXPECT_NEAR(p[2], 1.0f / e, 1e-6);
}

TEST(TreeEnsemble, MalformedFilesAreRefusedWithTheirReason) {
  TempDir dir;
  auto message = [&](const std::string& text) {
    try {
      TreeEnsemble::load(dir.file("x.json", text));
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(message("{").find("not JSON"), std::string::npos);
  EXPECT_NE(message(R"({"format": "other"})").find("etcpipe-trees/1"), std::string::npos);
  // A child that points back to its parent would loop forever.
  EXPECT_NE(message(R"({"format": "etcpipe-trees/1", "kind": "forest", "features": 1,
    "classes": 1, "trees": [{"feature": [0, -1], "threshold": [0, 0], "left": [0, -1],
    "right": [1, -1], "value": [[], [1]]}]})")
                .find("out of range"),
            std::string::npos);
  EXPECT_NE(message(R"({"format": "etcpipe-trees/1", "kind": "forest", "features": 1,
    "classes": 2, "trees": [{"feature": [-1], "threshold": [0], "left": [-1],
    "right": [-1], "value": [[1]]}]})")
                .find("one value per class"),
            std::string::npos);
  EXPECT_NE(message(R"({"format": "etcpipe-trees/1", "kind": "forest", "features": 1,
    "classes": 2, "trees": []})")
                .find("no trees"),
            std::string::npos);
}

// A model directory around kForest: its 2 features are the sizes of N = 2 packets.
// `extra`: more members of model.json (", ..."), as min_confidence and scope.
struct ModelDir {
  TempDir dir;
  explicit ModelDir(const std::string& inputs = R"(["sizes"])",
                    const std::string& spec = R"({"packets": 2, "bytes": 4})",
                    const std::string& extra = "") {
    dir.file("trees.json", kForest);
    dir.file("model.json", R"({"format": "etcpipe-model/1", "engine": "trees",
      "file": "trees.json", "inputs": )" +
                               inputs + extra + "}");
    dir.file("labels.json", R"({"classes": ["a", "b", "other"], "other": "other"})");
    dir.file("spec.json", spec);
  }
};

std::string load_error(const ModelDir& m) {
  try {
    Model::load(m.dir.path());
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "accepted";
}

TEST(Model, LoadsAModelDirectory) {
  ModelDir d;
  const Model m = Model::load(d.dir.path());
  EXPECT_EQ(m.classes.size(), 3u);
  EXPECT_EQ(m.other, 2);
  EXPECT_EQ(m.spec.packets, 2u);
  ASSERT_EQ(m.inputs.size(), 1u);
  EXPECT_EQ(m.inputs[0], ModelInput::Sizes);
  EXPECT_EQ(m.min_confidence, 0.0f);  // without them: every verdict stands, every row in scope
  EXPECT_EQ(m.scope.min_packets, 0u);
}

// A model directory with min_confidence and scope in its model.json.
ModelDir scoped_model(const std::string& extra) {
  return ModelDir(R"(["sizes"])", R"({"packets": 2, "bytes": 4})", extra);
}

TEST(Model, LoadsItsMinConfidenceAndScope) {
  const ModelDir d = scoped_model(R"(, "min_confidence": 0.75, "scope": {"min_packets": 2})");
  const Model m = Model::load(d.dir.path());
  EXPECT_FLOAT_EQ(m.min_confidence, 0.75f);
  EXPECT_EQ(m.scope.min_packets, 2u);
}

TEST(Model, RefusesABadMinConfidenceOrScopeNamingTheFile) {
  const std::pair<const char*, const char*> bad[] = {
      {R"(, "min_confidence": -0.1)", "min_confidence must be a number from 0 to 1"},
      {R"(, "min_confidence": 1.5)", "min_confidence must be a number from 0 to 1"},
      {R"(, "min_confidence": "0.5")", "min_confidence must be a number from 0 to 1"},
      {R"(, "scope": 2)", "scope must be an object"},
      {R"(, "scope": {"min_packets": -1})", "scope.min_packets must be a whole number"},
      {R"(, "scope": {"min_packets": 1.5})", "scope.min_packets must be a whole number"},
      {R"(, "scope": {"min_packets": "2"})", "scope.min_packets must be a whole number"},
      {R"(, "scope": {"min_packets": 3})", "more than the 2 packets of a row"},
  };
  for (const auto& [extra, reason] : bad) {
    const ModelDir d = scoped_model(extra);
    const std::string e = load_error(d);
    EXPECT_NE(e.find(d.dir.path() + "/model.json: "), std::string::npos) << extra << ": " << e;
    EXPECT_NE(e.find(reason), std::string::npos) << extra << ": " << e;
  }
}

TEST(Model, RefusesWhatItCannotRunWithAClearMessage) {
  EXPECT_NE(load_error(ModelDir(R"(["sizes"])", R"({"packets": 0})")).find("cannot produce"),
            std::string::npos);
  EXPECT_NE(
      load_error(ModelDir(R"(["sizes"])", R"({"packets": 2, "colour": 1})")).find("cannot produce"),
      std::string::npos);
  EXPECT_NE(load_error(ModelDir(R"(["pixels"])")).find("unknown model input"), std::string::npos);
  EXPECT_NE(load_error(ModelDir(R"(["sizes"])", R"({"packets": 2, "sequences": false})"))
                .find("turns off"),
            std::string::npos);
  // Three packets make three features; the trees read two.
  EXPECT_NE(load_error(ModelDir(R"(["sizes"])", R"({"packets": 3})")).find("read 2 features"),
            std::string::npos);
}

// Appends a row of 2 packets of sizes {x0, x1} for the flow in slot `flow` (of that slot's
// `generation`) to `b`.
void append_row(FeatureBatch& b, uint32_t flow, uint64_t first, uint64_t last, int32_t x0,
                int32_t x1, uint32_t generation = 0, uint32_t packets = 2) {
  FeatureRows one(b.spec(), 1);
  one.sizes(0)[0] = x0;
  one.sizes(0)[1] = x1;
  one.info(0) = {};
  one.info(0).slot = flow;
  one.info(0).generation = generation;
  one.info(0).packets = packets;
  one.info(0).first_ns = first;
  one.info(0).last_ns = last;
  b.append(one, 0);
}

// A batch of `count` rows whose sizes are {x0, x1}, at flow slots 0..count-1.
FeatureBatch make_batch(const FeatureSpec& spec, uint32_t count, int32_t x0, int32_t x1) {
  FeatureBatch b(spec);
  for (uint32_t r = 0; r < count; ++r) append_row(b, r, 1000 + r, 2000 + r, x0, x1);
  return b;
}

// The model of ModelDir and a classifier for it.
struct Rig {
  ModelDir dir;
  Model model = Model::load(dir.dir.path());
  Classifier classifier;
  Rig(uint32_t batch, unsigned threads, double max_delay_ms = 100)
      : classifier(model, [&] {
          ClassifierConfig cfg;
          cfg.batch = batch;
          cfg.threads = threads;
          cfg.max_delay_ms = max_delay_ms;
          return cfg;
        }()) {}
};

// Keeps what the classifier's stream delivers to it, from the inference threads.
class Subscriber {
 public:
  explicit Subscriber(Classifier& c) {
    c.subscribe([this](std::span<const Verdict> made) {
      std::lock_guard lk(mutex_);
      got_.insert(got_.end(), made.begin(), made.end());
    });
  }
  std::vector<Verdict> got() {
    std::lock_guard lk(mutex_);
    return got_;
  }
  // What came within `limit` (at least `count` verdicts, or fewer when time is up).
  std::vector<Verdict> wait_for(std::size_t count, std::chrono::seconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (got().size() < count && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return got();
  }

 private:
  std::mutex mutex_;
  std::vector<Verdict> got_;
};

TEST(Classifier, EveryRowGetsItsVerdict) {
  Rig rig(8, 2);
  const Model& m = rig.model;
  Classifier& c = rig.classifier;
  Subscriber subscriber(c);
  const FeatureBatch a = make_batch(m.spec, 20, 0, 0);   // class a
  const FeatureBatch b = make_batch(m.spec, 30, 5, 11);  // class other (2) by both trees
  c.add(a);
  c.add(b);
  c.finish();
  const std::vector<Verdict> v = subscriber.got();
  ASSERT_EQ(v.size(), 50u);
  std::size_t as = 0, others = 0;
  for (const Verdict& x : v) {
    if (x.label == 0) {
      ++as;
      EXPECT_FLOAT_EQ(x.confidence, 0.5f);  // ties go to the first class
    }
    if (x.label == 2) {
      ++others;
      EXPECT_FLOAT_EQ(x.confidence, 1.0f);
    }
  }
  EXPECT_EQ(as, 20u);
  EXPECT_EQ(others, 30u);
  const ClassifierStats s = c.stats();
  EXPECT_EQ(s.rows, 50u);
  EXPECT_EQ(s.batches, 7u);  // 6 full batches of 8 and the last 2 rows
}

TEST(Classifier, ARowWaitsNoLongerThanItsDeadline) {
  Rig rig(1000, 1, 20);
  const Model& m = rig.model;
  Classifier& c = rig.classifier;
  Subscriber subscriber(c);
  c.add(make_batch(m.spec, 3, 0, 0));
  // No finish(): only the deadline sends the batch.
  const std::vector<Verdict> v = subscriber.wait_for(3, std::chrono::seconds(10));
  ASSERT_EQ(v.size(), 3u);
  EXPECT_GE(v[0].wait_ms, 20.0);
  EXPECT_EQ(c.stats().deadline_batches, 1u);
}

// A classifier of one thread, batches of one, for the model in `d`.
ClassifierConfig one_by_one(std::optional<float> min_confidence = std::nullopt) {
  ClassifierConfig cfg;
  cfg.batch = 1;
  cfg.threads = 1;
  cfg.min_confidence = min_confidence;
  return cfg;
}

// Rows of fewer packets than the model's scope get no class, and no inference; the others
// theirs.
TEST(Classifier, ARowOutOfTheModelsScopeGetsNoClass) {
  const ModelDir d = scoped_model(R"(, "scope": {"min_packets": 2})");
  const Model m = Model::load(d.dir.path());
  Classifier c(m, one_by_one());
  Subscriber subscriber(c);
  FeatureBatch rows(m.spec);
  append_row(rows, 0, 1000, 1000, 5, 0, 0, 1);  // one packet: out of scope
  append_row(rows, 1, 1000, 1500, 0, 0);        // two: class a
  c.add(rows);
  c.finish();
  const std::vector<Verdict> v = subscriber.got();
  ASSERT_EQ(v.size(), 2u);
  for (const Verdict& x : v) {
    EXPECT_EQ(x.out_of_scope, x.info.slot == 0) << x.info.slot;
    if (x.info.slot == 1) {
      EXPECT_EQ(x.label, 0u);
    }
  }
  EXPECT_EQ(c.stats().rows, 1u);  // only the row in scope went through the engine
}

TEST(Classifier, TheModelsMinConfidenceAppliesUnlessOverridden) {
  // Rows of sizes {0, 0}: class a at 0.5 (kForest).
  const ModelDir d = scoped_model(R"(, "min_confidence": 0.6)");
  const Model m = Model::load(d.dir.path());
  auto label = [&](std::optional<float> min_confidence) {
    Classifier c(m, one_by_one(min_confidence));
    Subscriber subscriber(c);
    c.add(make_batch(m.spec, 1, 0, 0));
    c.finish();
    const std::vector<Verdict> v = subscriber.got();
    return v.size() == 1 ? int(v[0].label) : -1;
  };
  EXPECT_EQ(label(std::nullopt), 2);  // below the model's 0.6: other
  EXPECT_EQ(label(0.4f), 0);          // the override wins
  EXPECT_EQ(label(0.0f), 0);          // even when it is 0
  EXPECT_EQ(label(0.9f), 2);
}

TEST(Classifier, CalibrationPicksABatchSize) {
  ModelDir d;
  const Model m = Model::load(d.dir.path());
  Classifier c(m, ClassifierConfig{});
  EXPECT_GE(c.batch_size(), 1u);
  EXPECT_LE(c.batch_size(), 1024u);
}

class KeepSink final : public FlowSink {
 public:
  std::vector<FlowRecord> records;
  bool closed = false;
  void write(std::span<const FlowRecord> r) override {
    records.insert(records.end(), r.begin(), r.end());
  }
  void close() override { closed = true; }
};

// A classifier with one thread, and a join writing into a KeepSink.
struct JoinRig : Rig {
  KeepSink out;
  VerdictJoin join{classifier, model, FlowTimeouts{}, 0, out};
  explicit JoinRig(uint32_t batch) : Rig(batch, 1) {}
};

FlowRecord record(uint32_t slot, uint64_t first, uint64_t last, uint8_t selected,
                  uint32_t generation = 0) {
  FlowRecord r;
  r.slot = slot;
  r.generation = generation;
  r.first_ns = first;
  r.last_ns = last;
  r.selected = selected;
  r.proto = 17;
  r.end_reason = EndReason::EndOfInput;
  return r;
}

TEST(VerdictJoin, RecordsMeetTheirVerdictsWhicheverComesFirstAcrossSlotReuse) {
  JoinRig rig(1);
  const Model& m = rig.model;
  Classifier& c = rig.classifier;
  KeepSink& out = rig.out;
  VerdictJoin& join = rig.join;
  // Slot 0 holds flow A (time 1000..1500, class a), then flow B (its next generation, time
  // 2000..3000, class other); slot 1 a flow with no selected packet.
  FeatureBatch rows(m.spec);
  append_row(rows, 0, 2000, 2500, 5, 11, 1);  // B's verdict is made first
  c.add(rows);
  c.finish();
  const FlowRecord a = record(0, 1000, 1500, 2), b = record(0, 2000, 3000, 2, 1),
                   none = record(1, 100, 200, 0);
  const FlowRecord ab[] = {a, none};
  join.write(ab);  // A waits; none goes out unclassified
  rows.clear();
  append_row(rows, 0, 1000, 1400, 0, 0);
  c.add(rows);
  const FlowRecord bs[] = {b};
  join.write(bs);  // B meets the verdict that waited for it
  join.close();    // A's verdict comes, if it had not yet
  ASSERT_EQ(out.records.size(), 3u);
  EXPECT_TRUE(out.closed);
  EXPECT_EQ(out.records[0].label, nullptr);  // at once
  // A's verdict may be ready before B's record: the order of A and B is not fixed.
  auto by_start = [&](uint64_t first) {
    for (const FlowRecord& r : out.records) {
      if (r.first_ns == first) return r;
    }
    return FlowRecord{};
  };
  EXPECT_STREQ(by_start(2000).label, "other");
  EXPECT_STREQ(by_start(1000).label, "a");
  // A's row had its N packets at 1400 ns: 400 ns after the flow's first packet.
  EXPECT_GE(by_start(1000).verdict_latency_ms, 0.0004f);
  EXPECT_EQ(join.stats().classified, 2u);
  EXPECT_EQ(join.stats().no_packets, 1u);
  EXPECT_EQ(join.stats().no_verdict, 0u);
}

// Enforcement in a dry run (no XDP program): a flow gets its rule's action when its verdict
// found it alive (N packets, or the row timeout); a row finished by its flow's end has
// nothing left to act on.
TEST(Enforcer, OnlyFlowsAliveAtTheirVerdictGetAnAction) {
  ModelDir d;  // classes a, b, other; N = 2
  const Model m = Model::load(d.dir.path());
  KeepSink out;
  EnforcePolicy policy;
  policy.add(EnforcePolicy::parse_rule("drop:a"));
  std::vector<std::string> said;
  Enforcer e(policy, m, nullptr, out, [&](const std::string& s) { said.push_back(s); });
  ASSERT_TRUE(e.dry_run());
  // Slot 0: N packets; 1: one packet, its flow ended; 2: one packet, timed out; 3: class b.
  std::vector<Verdict> verdicts(4);
  const uint32_t packets[4] = {2, 1, 1, 2};
  for (uint32_t i = 0; i < 4; ++i) {
    verdicts[i].info.slot = i;
    verdicts[i].info.packets = packets[i];
    verdicts[i].info.timed_out = i == 2 ? 1 : 0;
    verdicts[i].label = i == 3 ? 1 : 0;
    verdicts[i].confidence = 0.9f;
  }
  e.act(verdicts);
  std::vector<FlowRecord> records;
  for (uint32_t i = 0; i < 4; ++i) {
    FlowRecord r = record(i, 100, 200, uint8_t(packets[i]));
    r.label = m.classes[verdicts[i].label].c_str();
    r.confidence = 0.9f;
    records.push_back(r);
  }
  e.write(records);
  ASSERT_EQ(out.records.size(), 4u);
  const FlowAction expected[4] = {FlowAction::Drop, FlowAction::None, FlowAction::Drop,
                                  FlowAction::None};
  for (uint32_t i = 0; i < 4; ++i) {
    EXPECT_EQ(out.records[i].action, expected[i]) << i;
    EXPECT_EQ(out.records[i].action_dry_run, expected[i] != FlowAction::None) << i;
  }
  ASSERT_EQ(said.size(), 2u);
  EXPECT_NE(said[0].find("dry run: would drop"), std::string::npos) << said[0];
  const EnforcementStats s = e.stats();
  EXPECT_EQ(s.flows[static_cast<int>(FlowAction::Drop)], 2u);
  EXPECT_EQ(s.ended, 1u);
  // A dry run says at most kDryRunLinesPerSecond flows a second.
  std::vector<Verdict> many(100, verdicts[0]);
  for (uint32_t i = 0; i < many.size(); ++i) many[i].info.slot = 10 + i;
  e.act(many);
  EXPECT_LE(said.size(), 2u + 2 * Enforcer::kDryRunLinesPerSecond);  // a second may turn
  // A record the enforcer saw no verdict for (the next flow in slot 0) has no action.
  e.write(std::span<const FlowRecord>(records.data(), 1));
  EXPECT_EQ(out.records.back().action, FlowAction::None);
}

// After a time reset one slot can hold flows of two epochs whose times overlap (a capture
// sorted by flow): A from 1822 to 40812, then B from 1820 to 40818. A's row (first packet
// 1822) lies in both spans; the slot's generation tells them apart.
TEST(VerdictJoin, FlowsOfTwoEpochsOverlappingInTimeGetTheirOwnVerdicts) {
  JoinRig rig(1);
  Classifier& c = rig.classifier;
  const FlowRecord records[] = {record(0, 1822, 40812, 2, 0), record(0, 1820, 40818, 2, 1)};
  rig.join.write(records);  // both wait
  FeatureBatch rows(rig.model.spec);
  append_row(rows, 0, 1822, 1900, 0, 0, 0);   // A: class a
  append_row(rows, 0, 1820, 1900, 5, 11, 1);  // B: class other
  c.add(rows);
  c.finish();
  rig.join.close();
  ASSERT_EQ(rig.out.records.size(), 2u);
  for (const FlowRecord& r : rig.out.records) {
    EXPECT_STREQ(r.label, r.first_ns == 1822 ? "a" : "other") << r.first_ns;
  }
  EXPECT_EQ(rig.join.stats().no_verdict, 0u);
}

// A flow out of the model's scope goes out with no label, status out-of-scope, counted; no
// rule acts on it, not even *.
TEST(VerdictJoin, AFlowOutOfScopeHasNoLabelAndNoAction) {
  const ModelDir d = scoped_model(R"(, "scope": {"min_packets": 2})");
  const Model m = Model::load(d.dir.path());
  Classifier c(m, one_by_one());
  KeepSink out;
  EnforcePolicy policy;
  policy.add(EnforcePolicy::parse_rule("drop:*"));
  Enforcer e(policy, m, nullptr, out, [](const std::string&) {});
  c.subscribe([&e](std::span<const Verdict> v) { e.act(v); });
  VerdictJoin join(c, m, FlowTimeouts{}, 0, e);
  // Slot 0: one packet, then the row timeout (its flow alive at its verdict: a rule would act
  // on it).
  FeatureRows one(m.spec, 1);
  one.info(0) = {};
  one.info(0).packets = 1;
  one.info(0).timed_out = 1;
  one.info(0).first_ns = one.info(0).last_ns = 1000;
  FeatureBatch rows(m.spec);
  rows.append(one, 0);
  append_row(rows, 1, 1000, 1500, 0, 0);  // in scope: class a
  c.add(rows);
  c.finish();
  const FlowRecord records[] = {record(0, 1000, 1000, 1), record(1, 1000, 1500, 2)};
  join.write(records);
  join.close();
  ASSERT_EQ(out.records.size(), 2u);
  for (const FlowRecord& r : out.records) {
    if (r.slot == 0) {
      EXPECT_EQ(r.label, nullptr);
      EXPECT_EQ(verdict_status(r), "out-of-scope");
      EXPECT_EQ(r.action, FlowAction::None);
    } else {
      EXPECT_STREQ(r.label, "a");
      EXPECT_EQ(verdict_status(r), "classified");
      EXPECT_EQ(r.action, FlowAction::Drop);
    }
  }
  EXPECT_EQ(join.stats().out_of_scope, 1u);
  EXPECT_EQ(join.stats().classified, 1u);
  EXPECT_EQ(join.stats().no_verdict, 0u);
  EXPECT_EQ(e.stats().flows[static_cast<int>(FlowAction::Drop)], 1u);
}

TEST(VerdictJoin, ARecordWhoseRowWasNeverMadeGoesOutUnclassifiedAtTheEnd) {
  JoinRig rig(4);
  KeepSink& out = rig.out;
  VerdictJoin& join = rig.join;
  const FlowRecord r[] = {record(7, 10, 20, 3)};
  join.write(r);
  EXPECT_TRUE(out.records.empty());
  join.close();
  ASSERT_EQ(out.records.size(), 1u);
  EXPECT_EQ(out.records[0].label, nullptr);
  EXPECT_EQ(join.stats().no_verdict, 1u);
}

// A record whose row its worker dropped (a live link's consumer behind) goes out at once,
// unclassified: no verdict will come for it.
TEST(VerdictJoin, ARecordWhoseRowWasDroppedGoesOutAtOnce) {
  JoinRig rig(4);
  FlowRecord r = record(7, 10, 20, 3);
  r.row_dropped = true;
  rig.join.write(std::span(&r, 1));
  ASSERT_EQ(rig.out.records.size(), 1u);
  EXPECT_EQ(rig.out.records[0].label, nullptr);
  EXPECT_EQ(rig.join.stats().no_verdict, 1u);
}

// Verdicts are a stream: a long flow whose N-th selected packet comes early is classified,
// and the verdict delivered to a subscriber, while the flow is still open in its table.
TEST(VerdictStream, AVerdictReachesASubscriberBeforeItsFlowEnds) {
  Rig rig(1, 1, 1);  // N = 2 packets; each row is a batch of its own
  Subscriber subscriber(rig.classifier);
  FlowPipelineConfig cfg;
  cfg.streaming = rig.model.spec;
  cfg.table.select.packets = rig.model.spec.packets;
  cfg.copy_selected = false;
  FlowPipeline pipe(cfg);
  std::vector<FlowRecord> ended;
  auto send = [&](uint8_t flags, std::size_t payload, uint64_t ts_ns) {
    using namespace test;
    const Bytes f = eth(0x0800, ipv4(kA, kB, 6, tcp(40000, 443, flags, Bytes(payload, 0x42))));
    PacketBatch b;
    b.push(ts_ns, f.data(), uint32_t(f.size()), uint32_t(f.size()));
    pipe.process(b);
    FeatureRing& ring = *pipe.flow_stage().features();
    while (FeatureBatch* rows = ring.take()) {
      rig.classifier.add(*rows);
      ring.give_back(rows);
    }
    for (const FlowRecord& r : pipe.finished()) ended.push_back(r);
  };
  constexpr uint64_t kMs = kNsPerSec / 1000;
  send(tcp_flag::kSyn, 0, 1000 * kMs);
  send(tcp_flag::kAck, 100, 1001 * kMs);
  send(tcp_flag::kAck, 200, 1002 * kMs);  // the 2nd payload packet: the row is complete

  const std::vector<Verdict> v = subscriber.wait_for(1, std::chrono::seconds(10));
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].info.tuple.sport, 40000);
  EXPECT_EQ(v[0].info.packets, 2u);
  EXPECT_EQ(v[0].info.last_ns, 1002 * kMs);
  EXPECT_TRUE(ended.empty());
  EXPECT_EQ(pipe.flow_stage().table().stats().active, 1u);  // the flow goes on

  for (uint64_t i = 0; i < 50; ++i) send(tcp_flag::kAck, 300, (1003 + i) * kMs);
  send(tcp_flag::kFin | tcp_flag::kAck, 0, 1100 * kMs);
  pipe.flush();
  for (const FlowRecord& r : pipe.finished()) ended.push_back(r);
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].pkts_fwd, 54u);
  rig.classifier.finish();
  EXPECT_EQ(subscriber.got().size(), 1u);  // one row per flow: no second verdict
}

}  // namespace
}  // namespace etcpipe
