#!/usr/bin/env python3
"""etcpipe classify as a user runs it, and the C++ engines against the Python side that
trained the models. Usage: classify_test.py ETCPIPE_BINARY SOURCE_DIR [TEST...]"""
import csv
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import unittest

ETCPIPE = sys.argv[1] if len(sys.argv) > 1 else "etcpipe"
SOURCE = sys.argv[2] if len(sys.argv) > 2 else "."
SAMPLES = os.path.join(SOURCE, "data", "samples")
SAMPLE = os.path.join(SAMPLES, "android.pcap")
DEFAULT_MODEL = os.path.join(SOURCE, "models", "default")
sys.path.insert(0, os.path.join(SOURCE, "python"))

from etcpipe_train import data, predict  # noqa: E402

VERDICT_FIELDS = ["label", "confidence", "verdict_latency_ms", "decided_in", "verdict_status"]


def run(*args, timeout=300):
    return subprocess.run([ETCPIPE, *args], capture_output=True, text=True, timeout=timeout)


def load_json(path):
    with open(path) as f:
        return json.load(f)


def records(stdout):
    return [json.loads(line) for line in stdout.splitlines()]


def key(r):
    return (r["src_ip"], r["src_port"], r["dst_ip"], r["dst_port"], r["proto"], r["vlan"])


def train(dataset, arch, out, *extra):
    env = dict(os.environ, PYTHONPATH=os.path.join(SOURCE, "python"))
    p = subprocess.run([sys.executable, "-m", "etcpipe_train.train", "--data", dataset, "--arch",
                        arch, "--out", out, "--min-flows", "1", "--all", *extra],
                       capture_output=True, text=True, timeout=600, env=env)
    if p.returncode != 0:
        raise AssertionError(p.stderr)


class DefaultModel(unittest.TestCase):
    def test_every_flow_gets_a_line_with_its_verdict_and_a_summary(self):
        with tempfile.TemporaryDirectory() as tmp:
            stats_path = os.path.join(tmp, "stats.json")
            out = run("classify", "-r", SAMPLE, "--stats-json", stats_path)
            self.assertEqual(out.returncode, 0, out.stderr)
            with open(stats_path) as f:
                totals = json.loads(f.read().splitlines()[-1])["classification"]
        got = records(out.stdout)
        flows = records(run("flows", "-q", "-r", SAMPLE).stdout)
        # The flows of `etcpipe flows`, each with the verdict fields after its own.
        self.assertEqual(sorted(map(key, got)), sorted(map(key, flows)))
        classes = load_json(os.path.join(DEFAULT_MODEL, "labels.json"))["classes"]
        classified = [r for r in got if r["label"] is not None]
        self.assertGreater(len(classified), 15)
        for r in got:
            self.assertEqual(list(r)[-5:], VERDICT_FIELDS)
            if r["proto"] == "UDP" and r["dst_port"] == 53:  # a query and its answer: 2 packets
                self.assertEqual(r["verdict_status"], "out-of-scope", r)
            if r["label"] is None:
                self.assertIsNone(r["confidence"])
                # No payload, or fewer packets than the model's scope (3).
                self.assertIn(r["verdict_status"], ("no-packet", "out-of-scope"))
                continue
            self.assertEqual(r["verdict_status"], "classified")
            self.assertIn(r["label"], classes)
            self.assertGreater(r["confidence"], 0)
            self.assertLessEqual(r["confidence"], 1.0)
            self.assertGreaterEqual(r["verdict_latency_ms"], 0)
        self.assertIn("flows per label", out.stderr)
        self.assertIn("verdict latency ms: p50", out.stderr)
        self.assertIn(f"classified {len(classified)} flows", out.stderr)
        self.assertEqual(totals["classified"], len(classified))
        scoped = [r for r in got if r["verdict_status"] == "out-of-scope"]
        self.assertEqual(totals["out_of_scope"], len(scoped))
        self.assertEqual(totals["without_selected_packet"], len(got) - len(classified) - len(scoped))
        self.assertEqual(sum(totals["per_label"].values()), len(classified))

    def test_same_verdicts_whatever_the_number_of_workers(self):
        def verdicts(workers):
            out = run("classify", "-q", "--workers", workers, "-r", SAMPLES)
            self.assertEqual(out.returncode, 0, out.stderr)
            return sorted((key(r), r["first_ts"], r["label"], r["confidence"])
                          for r in records(out.stdout))
        self.assertEqual(verdicts("1"), verdicts("2"))

    def test_same_verdicts_whatever_the_number_of_workers_on_every_shared_capture(self):
        # Time goes back between these files: a table slot holds flows of several epochs,
        # and each verdict must still reach its own flow's record (its slot's generation).
        shared = os.path.join(SOURCE, "..", "shared", "data", "ndpi", "pcap")
        if not os.path.isdir(shared):
            self.skipTest("no shared captures beside the checkout")
        def verdicts(workers):
            out = run("classify", "-q", "--workers", workers, "-r", shared)
            self.assertLessEqual(out.returncode, 1, out.stderr)  # one shared file is broken
            return sorted((key(r), r["first_ts"], r["last_ts"], r["label"], r["confidence"])
                          for r in records(out.stdout))
        one = verdicts("1")
        self.assertGreater(len(one), 8000)
        self.assertEqual(one, verdicts("2"))
        self.assertEqual(one, verdicts("3"))

    def test_csv_and_sqlite_hold_the_verdicts(self):  # IPFIX: cli_test.py
        with tempfile.TemporaryDirectory() as tmp:
            db, table = os.path.join(tmp, "v.db"), os.path.join(tmp, "v.csv")
            out = run("classify", "-q", "-r", SAMPLE, "-o", f"sqlite:{db}", "-o", f"csv:{table}")
            self.assertEqual(out.returncode, 0, out.stderr)
            with open(table) as f:
                rows = list(csv.DictReader(f))
            self.assertEqual(list(rows[0])[-5:], VERDICT_FIELDS)
            labelled = [r for r in rows if r["label"]]
            self.assertTrue(labelled)
            con = sqlite3.connect(db)
            n, with_label = con.execute(
                "SELECT count(*), count(label) FROM flows").fetchone()
            self.assertEqual(n, len(rows))
            self.assertEqual(with_label, len(labelled))
            con.close()

    def test_verdict_timeout_bounds_the_wait_of_short_flows(self):
        capture = os.path.join(SAMPLES, "dns_fragmented.pcap")  # short UDP flows, then idle
        late = records(run("classify", "-q", "-r", capture, "--verdict-timeout", "0").stdout)
        early = records(run("classify", "-q", "-r", capture, "--verdict-timeout", "1").stdout)
        self.assertEqual(sorted(map(key, late)), sorted(map(key, early)))
        idle = [r for r in late if r["label"] and r["end_reason"] == "idle"]
        self.assertTrue(idle)
        for r in idle:  # waited for the flow's end: its last packet plus the UDP idle timeout
            self.assertGreaterEqual(r["verdict_latency_ms"], 60000)
        for r in early:
            if r["label"] is not None:  # 1 s after the first packet, plus inference
                self.assertLess(r["verdict_latency_ms"], 1000 + 4000)

    def test_rows_follow_the_flows_and_a_flow_without_one_says_so(self):
        # 90,000 flows open at once in one worker: more than any fixed row count etcpipe had
        # (65,536). By default every flow with a selected packet gets its verdict.
        with tempfile.TemporaryDirectory() as tmp:
            capture = os.path.join(tmp, "many.pcap")
            out = run("gen", "--flows", "90000", "--new-flows-per-sec", "1000", "--packet-size",
                      "64", "--packets", "250000", "-w", capture)
            self.assertEqual(out.returncode, 0, out.stderr)
            stats_path = os.path.join(tmp, "stats.json")
            out = run("classify", "-q", "-r", capture, "--workers", "1", "--stats-json",
                      stats_path)
            self.assertEqual(out.returncode, 0, out.stderr)
            got = records(out.stdout)
            stats = load_json(stats_path)
            self.assertGreater(stats["flows_peak_active"], 80000)
            status = {}
            for r in got:
                status[r["verdict_status"]] = status.get(r["verdict_status"], 0) + 1
                self.assertEqual(r["label"] is None, r["verdict_status"] != "classified")
            self.assertEqual(set(status) - {"no-packet", "out-of-scope"}, {"classified"})
            self.assertEqual(stats["classification"]["classified"], status["classified"])
            self.assertEqual(stats["classification"]["without_row"], 0)
            # With a real limit, the flows that found no row say so, and are counted.
            out = run("classify", "-q", "-r", capture, "--workers", "1", "--feature-rows",
                      "1000", "--stats-json", stats_path)
            self.assertEqual(out.returncode, 0, out.stderr)
            no_row = [r for r in records(out.stdout) if r["verdict_status"] == "no-row"]
            self.assertGreater(len(no_row), 60000)
            self.assertTrue(all(r["label"] is None for r in no_row))
            stats = load_json(stats_path)
            self.assertEqual(stats["classification"]["without_row"], len(no_row))

    def test_feature_rows_is_bounded_and_costs_memory_only_as_rows_are_used(self):
        out = run("classify", "-q", "-r", SAMPLE, "--feature-rows", "4294967295")
        self.assertEqual(out.returncode, 2)
        self.assertIn("--feature-rows", out.stderr)
        # The largest count allowed, on a 500-packet capture: its peak memory in a process of
        # its own (ru_maxrss of the children of a fresh interpreter), against the default's.
        def peak_rss_kb(*extra):
            probe = ("import resource, subprocess, sys; "
                     "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True); "
                     "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
            p = subprocess.run([sys.executable, "-c", probe, ETCPIPE, "classify", "-q", "-r",
                                SAMPLE, *extra], capture_output=True, text=True, timeout=300)
            self.assertEqual(p.returncode, 0, p.stderr)
            return int(p.stdout)
        base = peak_rss_kb()
        self.assertLess(peak_rss_kb("--feature-rows", str(1 << 26)), base + 64 * 1024)

    def test_pcap_output_holds_the_analysed_packets(self):
        with tempfile.TemporaryDirectory() as tmp:
            paths, written = {}, set()
            for command in ("flows", "classify"):  # the same N: the default model's is 10
                paths[command] = os.path.join(tmp, command + ".pcap")
                out = run(command, "-r", SAMPLE, "-o", "/dev/null", "-o", "pcap:" + paths[command])
                self.assertEqual(out.returncode, 0, out.stderr)
                written.add(int(re.search(r"pcap: (\d+) selected packets written",
                                          out.stderr).group(1)))
            self.assertEqual(len(written), 1)
            self.assertGreater(written.pop(), 100)
            with open(paths["flows"], "rb") as a, open(paths["classify"], "rb") as b:
                self.assertEqual(a.read(), b.read())

    def test_a_flow_out_of_the_models_scope_gets_no_label_and_its_min_confidence_applies(self):
        # The default model (made for flows of 3 selected packets at least), sure to 0.5:
        # the sample's plain DNS lookups (a query and its answer) are out of its scope.
        with tempfile.TemporaryDirectory() as tmp:
            for name in ("labels.json", "spec.json", "trees.json"):
                with open(os.path.join(DEFAULT_MODEL, name)) as src, \
                        open(os.path.join(tmp, name), "w") as dst:
                    dst.write(src.read())
            model = load_json(os.path.join(DEFAULT_MODEL, "model.json"))
            model.update(min_confidence=0.5, scope={"min_packets": 3})
            with open(os.path.join(tmp, "model.json"), "w") as f:
                json.dump(model, f)
            stats_path = os.path.join(tmp, "stats.json")
            out = run("classify", "-r", SAMPLE, "--model", tmp, "--stats-json", stats_path)
            self.assertEqual(out.returncode, 0, out.stderr)
            with open(stats_path) as f:
                totals = json.loads(f.read().splitlines()[-1])["classification"]
            overridden = records(run("classify", "-q", "-r", SAMPLE, "--model", tmp,
                                     "--min-confidence", "0").stdout)
        got = records(out.stdout)
        dns = [r for r in got if r["proto"] == "UDP" and r["dst_port"] == 53]
        self.assertGreater(len(dns), 10)
        for r in dns:
            self.assertEqual(r["verdict_status"], "out-of-scope")
            self.assertIsNone(r["label"])
            self.assertIsNone(r["confidence"])
        scoped = [r for r in got if r["verdict_status"] == "out-of-scope"]
        self.assertEqual(totals["out_of_scope"], len(scoped))
        self.assertIn(f"{len(scoped)} out of the model's scope (fewer than 3 selected packets)",
                      out.stderr)
        classified = [r for r in got if r["verdict_status"] == "classified"]
        self.assertTrue(classified)
        for r in classified:  # below 0.5, the catch-all class
            self.assertTrue(r["label"] == "other" or r["confidence"] >= 0.5, r)
        # --min-confidence 0 overrides the model's: some verdicts below 0.5 keep their class.
        self.assertTrue(any(r["label"] not in (None, "other") and r["confidence"] < 0.5
                            for r in overridden))

    def test_a_model_it_cannot_run_is_refused_with_a_clear_message(self):
        out = run("classify", "-r", SAMPLE, "--model", "/nonexistent")
        self.assertEqual(out.returncode, 2)
        self.assertIn("not a model directory", out.stderr)
        with tempfile.TemporaryDirectory() as tmp:
            for name in ("model.json", "labels.json", "trees.json"):
                with open(os.path.join(DEFAULT_MODEL, name)) as src, \
                        open(os.path.join(tmp, name), "w") as dst:
                    dst.write(src.read())
            with open(os.path.join(tmp, "spec.json"), "w") as f:
                json.dump({"packets": 300}, f)
            out = run("classify", "-r", SAMPLE, "--model", tmp)
            self.assertEqual(out.returncode, 2)
            self.assertIn("a feature spec etcpipe cannot produce: --packets must be 1..255",
                          out.stderr)
        out = run("classify", "-r", SAMPLE, "--device", "cuda")
        self.assertEqual(out.returncode, 2)
        self.assertIn("is a tree ensemble, and the tree engine runs on the CPU only", out.stderr)
        out = run("classify", "-r", SAMPLE, "--device", "tpu")
        self.assertEqual(out.returncode, 2)
        self.assertIn("--device", out.stderr)


class EnginesAgreeWithPython(unittest.TestCase):
    """A model trained on the samples, run by etcpipe classify and by the Python side on
    the dataset etcpipe extract made of the same captures: same classes, same
    probabilities, flow by flow."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.ds = os.path.join(cls.tmp.name, "ds")
        out = run("extract", "-q", "-r", SAMPLES, "-o", cls.ds, "--labels-csv",
                  os.path.join(SAMPLES, "labels.csv"))
        assert out.returncode == 0, out.stderr
        cls.dataset = data.Dataset(cls.ds)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def check(self, arch, *extra, device="cpu"):
        model = os.path.join(self.tmp.name, arch)
        if not os.path.isdir(model):
            train(self.ds, arch, model, *extra)
        # The dataset's rows waited for N packets or the flow's end: so do these.
        out = run("classify", "-q", "-r", SAMPLES, "--model", model, "--device", device,
                  "--verdict-timeout", "0")
        self.assertEqual(out.returncode, 0, out.stderr)
        by_key = {}
        for r in records(out.stdout):
            by_key.setdefault(key(r), []).append(r)
        classes = load_json(os.path.join(model, "labels.json"))["classes"]
        p = predict.proba(model, self.dataset)
        compared = 0
        for i, flow in enumerate(self.dataset.flows):
            k = (flow["src"], int(flow["sport"]), flow["dst"], int(flow["dport"]),
                 {"6": "TCP", "17": "UDP"}.get(flow["proto"], flow["proto"]), int(flow["vlan"]))
            if len(by_key.get(k, [])) != 1:
                continue  # a 5-tuple seen in several flows (tunnels): not comparable by key
            r = by_key[k][0]
            self.assertEqual(r["label"], classes[p[i].argmax()], f"flow {k}")
            self.assertAlmostEqual(r["confidence"], float(p[i].max()), delta=1e-4, msg=f"flow {k}")
            compared += 1
        self.assertGreater(compared, len(self.dataset.flows) * 0.8)

    def test_tree_engine(self):
        self.check("forest")

    def test_tree_engine_on_a_kernel_forest_of_fewer_packets(self):
        # Its spec holds fewer packets than the dataset's rows: the first ones are compared.
        self.check("kforest", "--packets", "3")

    def test_torchscript_engine(self):
        if "Engines in this build: trees, TorchScript" not in run("classify", "--help").stdout:
            self.skipTest("etcpipe built without libtorch")
        self.check("cnn", "--epochs", "2")
        # On a CUDA device: the same verdicts where libtorch has CUDA and a GPU, else a
        # clear refusal.
        model = os.path.join(self.tmp.name, "cnn")
        out = run("classify", "-q", "-r", SAMPLE, "--model", model, "--device", "cuda")
        if out.returncode == 2:
            self.assertIn("--device cuda: libtorch sees no CUDA device", out.stderr)
        else:
            self.check("cnn", device="cuda")


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1] + sys.argv[3:], verbosity=2)  # then test names, if any
