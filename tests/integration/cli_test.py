#!/usr/bin/env python3
"""The etcpipe command line as a user runs it. Usage: cli_test.py ETCPIPE_BINARY SOURCE_DIR [TEST...]"""
import csv
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

import numpy as np  # Debian's python3-numpy (scripts/install-deps.sh)

ETCPIPE = sys.argv[1] if len(sys.argv) > 1 else "etcpipe"
SOURCE = sys.argv[2] if len(sys.argv) > 2 else "."
SAMPLES = os.path.join(SOURCE, "data", "samples")
SAMPLE = os.path.join(SAMPLES, "android.pcap")
REQUIRED_FIELDS = ["src_ip", "dst_ip", "src_port", "dst_port", "proto", "vlan", "first_ts",
                   "last_ts", "pkts_fwd", "pkts_rev", "bytes_fwd", "bytes_rev", "tcp_flags_fwd",
                   "tcp_flags_rev", "end_reason"]
FLOWS_OPTIONS = ["-r,--read", "-o,--output", "--stats-json", "--stats-interval", "-q,--quiet",
                 "--metrics", "--web",
                 "--workers", "--no-decap", "--max-flows", "--tcp-idle", "--udp-idle",
                 "--other-idle", "--active-timeout", "--tcp-close-timeout", "--frag-table",
                 "--frag-timeout", "--select-packets", "--select-proto", "--select-empty",
                 "--select-direction", "--select-min-payload", "--select-ports",
                 "--select-filter", "--select-snaplen"]
EXTRACT_OPTIONS = ["-r,--read", "-o,--output", "-q,--quiet", "--extractor", "--feature-rows",
                   "--spec", "--preset", "--packets", "--bytes", "--start", "--header-bytes",
                   "--anonymize", "--keep-tcp-fields", "--pad", "--seed", "--no-matrix",
                   "--no-sequences", "--no-stats", "--labels-csv", "--labels-from-dirs",
                   "--labels-ndpi", "--encrypted-only", "--min-packets-each-way", "--workers",
                   "--max-flows", "--select-proto", "--select-empty", "--select-snaplen"]
TRAFFIC_OPTIONS = ["--flows", "--new-flows-per-sec", "--packet-size", "--packets", "--duration",
                   "--rate", "--tcp-share", "--ipv6-share", "--payload", "--seed"]


def run(*args):
    return subprocess.run([ETCPIPE, *args], capture_output=True, text=True, timeout=120)


def records(stdout):
    return [json.loads(line) for line in stdout.splitlines()]


def assert_documented(test, command, options):
    out = run(command, "--help")
    test.assertEqual(out.returncode, 0)
    lines = out.stdout.splitlines()
    for opt in options:
        idx = [i for i, l in enumerate(lines) if l.strip().startswith(opt)]
        test.assertTrue(idx, f"{opt} missing from {command} --help")
        line = lines[idx[0]]
        rest = line.strip()[len(opt):].strip()
        # Description on the same line after the type, or on the next line.
        described = len(rest.split(None, 1)) > 1 or lines[idx[0] + 1].startswith(" " * 20)
        test.assertTrue(described, f"{opt} has no description: {line!r}")
    return out.stdout


class Help(unittest.TestCase):
    def test_every_option_is_documented(self):
        self.assertIn("BPF", assert_documented(self, "flows", FLOWS_OPTIONS))
        assert_documented(self, "gen", ["-w,--write", "-s,--snaplen"] + TRAFFIC_OPTIONS)
        self.assertIn("matrix.npy", assert_documented(self, "extract", EXTRACT_OPTIONS))
        assert_documented(self, "bench", ["--workers", "--max-flows", "--snaplen", "--json"]
                          + TRAFFIC_OPTIONS)

    def test_top_level_help_and_version(self):
        self.assertIn("flows", run("--help").stdout)
        self.assertEqual(run("--version").returncode, 0)
        self.assertNotEqual(run().returncode, 0)


class Flows(unittest.TestCase):
    def test_sample_gives_flow_records_and_a_summary(self):
        with tempfile.TemporaryDirectory() as tmp:
            stats_path = os.path.join(tmp, "stats.json")
            out = run("flows", "-r", SAMPLE, "--stats-json", stats_path)
            self.assertEqual(out.returncode, 0, out.stderr)
            recs = records(out.stdout)
            self.assertGreater(len(recs), 10)
            for r in recs:
                for field in REQUIRED_FIELDS:
                    self.assertIn(field, r)
                self.assertLessEqual(r["first_ts"], r["last_ts"])
            self.assertIn("packets read", out.stderr)
            self.assertIn("flows", out.stderr)
            with open(stats_path) as f:
                stats = json.load(f)
            self.assertTrue(stats["accounting_balanced"])
            self.assertEqual(stats["packets_read"], sum(stats["outcomes"].values()))
            self.assertGreaterEqual(stats["packets_decoded"], stats["packets_in_flows"])
            self.assertEqual(stats["flows_created"], len(recs))
            self.assertEqual(sum(r["pkts_fwd"] + r["pkts_rev"] for r in recs),
                             stats["packets_in_flows"])

    def test_output_file_and_quiet(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "flows.jsonl")
            out = run("flows", "-q", "-r", SAMPLE, "-o", path)
            self.assertEqual(out.returncode, 0)
            self.assertEqual(out.stdout, "")
            self.assertEqual(out.stderr, "")
            with open(path) as f:
                self.assertGreater(len(records(f.read())), 10)

    def test_bpf_expression_filters_like_tcpdump(self):
        out = run("flows", "-r", SAMPLE, "--stats-json", "/dev/stderr", "-q", "tcp", "port", "443")
        self.assertEqual(out.returncode, 0, out.stderr)
        recs = records(out.stdout)
        self.assertTrue(recs)
        for r in recs:
            self.assertEqual(r["proto"], "TCP")
            self.assertIn(443, (r["src_port"], r["dst_port"]))
        stats = json.loads(out.stderr)
        self.assertGreater(stats["outcomes"]["filtered_bpf"], 0)

    def test_directory_and_repeated_inputs(self):
        whole = records(run("flows", "-q", "-r", SAMPLES).stdout)
        files = sorted(os.path.join(SAMPLES, f) for f in os.listdir(SAMPLES) if ".pcap" in f)
        args = [a for f in files for a in ("-r", f)]
        self.assertEqual(len(records(run("flows", "-q", *args).stdout)), len(whole))

    def test_no_decap_tracks_the_outer_flow(self):
        vx = os.path.join(SAMPLES, "vxlan.pcap")
        inner = records(run("flows", "-q", "-r", vx).stdout)
        outer = records(run("flows", "-q", "--no-decap", "-r", vx).stdout)
        self.assertTrue(all(r["tunnel"] == "vxlan" for r in inner))
        self.assertTrue(all(r["tunnel"] == "none" and 4789 in (r["src_port"], r["dst_port"])
                            for r in outer))

    def test_errors_are_clear(self):
        missing = run("flows", "-r", "/nonexistent.pcap")
        self.assertEqual(missing.returncode, 2)
        self.assertIn("/nonexistent.pcap", missing.stderr)
        bad = run("flows", "-r", SAMPLE, "tcp", "and", "and")
        self.assertEqual(bad.returncode, 2)
        self.assertIn("bad filter expression", bad.stderr)
        # Usage errors found by the option parser exit with 2 as well (as --help says).
        for args, said in ((["--workers", "0"], "--workers"), (["--no-such-option"], "--no-such")):
            bad = run("flows", "-r", SAMPLE, *args)
            self.assertEqual(bad.returncode, 2, args)
            self.assertIn(said, bad.stderr)
        with tempfile.NamedTemporaryFile(suffix=".pcap") as junk:
            junk.write(b"this is not a capture" * 10)
            junk.flush()
            out = run("flows", "-r", junk.name, "-r", SAMPLE)
            self.assertEqual(out.returncode, 1)
            self.assertIn(junk.name, out.stderr)
            self.assertGreater(len(records(out.stdout)), 10)  # the good input is still read
        self.assertNotEqual(run("flows", "-r", SAMPLE, "--udp-idle", "-5").returncode, 0)



def pcapng_block(block_type, body, length=None, trailer=None):
    """A pcapng block; `length`/`trailer` override its total length fields (broken blocks)."""
    body += b"\0" * (-len(body) % 4)
    total = 12 + len(body)
    return (struct.pack("<II", block_type, total if length is None else length) + body +
            struct.pack("<I", total if trailer is None else trailer))


class UnreadableInputs(unittest.TestCase):
    """An input that ends in a read error counts as not read: exit 1, the others are read."""

    def corrupt_captures(self, tmp):
        pcap_header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
        noise = bytes((i * 7919 + 13) % 251 for i in range(4096))  # fixed "random" bytes
        packet = struct.pack("<IIII", 0, 0, 60, 60) + b"\0" * 60
        shb = pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
        idb = pcapng_block(1, struct.pack("<HHI", 1, 0, 65535))
        epb_body = struct.pack("<IIIII", 0, 0, 0, 60, 60) + b"\0" * 60
        cases = {
            "noise_after_header.pcap": pcap_header + noise,
            "huge_caplen.pcap": pcap_header + struct.pack("<IIII", 0, 0, 0x7FFFFFFF, 0x7FFFFFFF)
            + noise,
            "packet_then_huge_caplen.pcap": pcap_header + packet
            + struct.pack("<IIII", 0, 0, 0x7FFFFFFF, 0x7FFFFFFF) + noise,
            "epb_bad_trailer.pcapng": shb + idb + pcapng_block(6, epb_body, trailer=1000),
        }
        for length in (0, 12, 13, 0xFFFFFFF0):
            cases[f"epb_length_{length}.pcapng"] = (shb + idb + pcapng_block(6, epb_body, length)
                                                    + b"\0" * 64)
        paths = []
        for name, data in cases.items():
            paths.append(os.path.join(tmp, name))
            with open(paths[-1], "wb") as f:
                f.write(data)
        return paths

    def test_corrupt_inputs_exit_1_and_the_others_are_read(self):
        sample_flows = len(records(run("flows", "-q", "-r", SAMPLE).stdout))
        with tempfile.TemporaryDirectory() as tmp:
            for path in self.corrupt_captures(tmp):
                with self.subTest(capture=os.path.basename(path)):
                    out = run("flows", "-r", path, "-r", SAMPLE)
                    self.assertEqual(out.returncode, 1, out.stderr)
                    self.assertIn(path, out.stderr)
                    self.assertIn("1 input(s) could not be read", out.stderr)
                    self.assertEqual(len(records(out.stdout)), sample_flows)
                    alone = run("flows", "-q", "-r", path)
                    self.assertEqual(alone.returncode, 1, alone.stderr)
            ds = os.path.join(tmp, "ds")
            out = run("extract", "-q", "-r", tmp, "-r", SAMPLE, "-o", ds)
            self.assertEqual(out.returncode, 1, out.stderr)
            self.assertTrue(os.path.exists(os.path.join(ds, "meta.json")))

    def test_a_bad_directory_entry_is_reported_and_the_rest_read(self):
        sample_flows = len(records(run("flows", "-q", "-r", SAMPLE).stdout))
        with tempfile.TemporaryDirectory() as tmp:
            d = os.path.join(tmp, "d")
            os.makedirs(os.path.join(d, "sub"))
            shutil.copy(SAMPLE, os.path.join(d, "sub"))
            os.symlink("loop", os.path.join(d, "loop"))  # ln -s loop d/loop: a loop
            out = run("flows", "-r", d)
            self.assertEqual(out.returncode, 1, out.stderr)
            self.assertIn(os.path.join(d, "loop"), out.stderr)
            self.assertEqual(len(records(out.stdout)), sample_flows)
            out = run("extract", "-q", "-r", d, "-o", os.path.join(tmp, "ds"))
            self.assertEqual(out.returncode, 1, out.stderr)
            self.assertIn(os.path.join(d, "loop"), out.stderr)

    def test_an_unreadable_subdirectory_is_reported_and_the_rest_read(self):
        if os.geteuid() == 0:
            self.skipTest("root reads every directory")
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copy(SAMPLE, tmp)
            closed = os.path.join(tmp, "closed")
            os.mkdir(closed)
            os.chmod(closed, 0)
            try:
                out = run("flows", "-r", tmp)
            finally:
                os.chmod(closed, 0o700)
            self.assertEqual(out.returncode, 1, out.stderr)
            self.assertIn(closed, out.stderr)
            self.assertGreater(len(records(out.stdout)), 10)


class BadOptions(unittest.TestCase):
    def test_out_of_range_options_are_usage_errors(self):
        with tempfile.TemporaryDirectory() as tmp, socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))  # a port taken
            busy.listen()
            for args, said in (
                    (["-o", "ipfix:127.0.0.1:99999"], "99999"),
                    (["-o", "ipfix-tcp:127.0.0.1:0"], "bad port"),
                    (["--metrics", "127.0.0.1:99999"], "99999"),
                    (["--metrics", "127.0.0.1:80x"], "bad port"),
                    (["--web", "127.0.0.1:99999"], "99999"),
                    (["--web", "127.0.0.1"], "--web 127.0.0.1: expected ADDR:PORT"),
                    (["--web", f"127.0.0.1:{busy.getsockname()[1]}"],
                     "cannot listen there: Address already in use"),
                    (["--tcp-idle", "nan"], "--tcp-idle"),
                    (["--udp-idle", "inf"], "--udp-idle"),
                    (["--tcp-idle", "-1"], "--tcp-idle"),
                    (["--max-flows", "0"], "--max-flows"),
                    (["--frag-table", "1000000000"], "--frag-table"),
                    (["--stats-interval", "0"], "--stats-interval"),
                    (["--stats-interval", "nan"], "--stats-interval"),
                    (["--stats-json", os.path.join(tmp, "no", "such", "dir", "s.json")],
                     "--stats-json")):
                with self.subTest(args=args):
                    out = run("flows", "-q", "-r", SAMPLE, "-o", "/dev/null", *args)
                    self.assertEqual(out.returncode, 2, out.stderr)
                    self.assertIn(said, out.stderr)
                    self.assertLess(len(out.stderr), 2000)
                    self.assertNotRegex(out.stderr, r"\d{40}", "a sane range, not 309 digits")
            out = run("flows", "-q", "-r", SAMPLE, "--max-flows", "0")
            self.assertIn("1 to 2147483648", out.stderr)  # the range is said
            # A directory with no capture is an error, as it is for extract.
            out = run("flows", "-q", "-r", tmp)
            self.assertEqual(out.returncode, 2, out.stderr)
            self.assertIn("no capture", out.stderr)

    def test_tables_that_do_not_fit_in_memory_say_what_to_lower(self):
        if shutil.which("prlimit") is None:
            self.skipTest("no prlimit")
        for workers in ("1", "2"):
            with self.subTest(workers=workers):
                out = subprocess.run(["prlimit", "--as=1000000000", ETCPIPE, "flows", "-q", "-r",
                                      SAMPLE, "-o", "/dev/null", "--workers", workers,
                                      "--max-flows", "50000000"],
                                     capture_output=True, text=True, timeout=60)
                if "AddressSanitizer failed to allocate" in out.stderr:
                    self.skipTest("AddressSanitizer's shadow memory does not fit an address "
                                  "space limit")
                self.assertEqual(out.returncode, 2, out.stderr)
                self.assertIn("--max-flows", out.stderr)
                self.assertNotIn("terminate", out.stderr)


class Workers(unittest.TestCase):
    def test_same_records_whatever_the_worker_count(self):
        one = sorted(run("flows", "-q", "--workers", "1", "-r", SAMPLES).stdout.splitlines())
        two = sorted(run("flows", "-q", "--workers", "2", "-r", SAMPLES).stdout.splitlines())
        self.assertEqual(one, two)
        self.assertGreater(len(one), 50)

    def test_per_worker_statistics(self):
        # Selected packets are copied only for a reader of them (here the pcap: output).
        for outputs, copies in ((["-o", "/dev/null"], False),
                                (["-o", "/dev/null", "-o", "pcap:/dev/null"], True)):
            out = run("flows", "-q", "--workers", "2", "-r", SAMPLE, *outputs,
                      "--stats-json", "/dev/stdout")
            stats = json.loads(out.stdout.splitlines()[-1])
            self.assertEqual(len(stats["workers"]), 2)
            self.assertEqual(sum(w["packets"] for w in stats["workers"]),
                             stats["packets_in_flows"])
            sel = stats["selection"]
            self.assertEqual(sel["copied"] + sel["copy_dropped"],
                             sel["selected"] if copies else 0)
            self.assertGreater(sel["selected"], 0)
            self.assertEqual(
                sum(v for k, v in sel.items() if k not in ("copied", "copy_dropped")),
                stats["packets_in_flows"])


class FlowTableMemory(unittest.TestCase):
    def test_default_capacity_costs_memory_in_proportion_to_the_flows(self):
        # The default --max-flows is a quarter of memory (millions of flows): the table must
        # still cost about 144 bytes per flow open, not per flow of capacity.
        with tempfile.TemporaryDirectory() as tmp:
            capture = os.path.join(tmp, "g.pcap")
            gen = run("gen", "--flows", "20000", "--packets", "100000", "-w", capture)
            self.assertEqual(gen.returncode, 0, gen.stderr)
            out = run("flows", "-q", "--workers", "1", "-r", capture, "-o", "/dev/null",
                      "--stats-json", "/dev/stdout")
            self.assertEqual(out.returncode, 0, out.stderr)
            stats = json.loads(out.stdout.splitlines()[-1])
            peak = stats["flows_peak_active"]
            self.assertGreater(peak, 1000)
            # entries used (at most the peak) + an index of at most 4 slots per flow open
            # (it doubles at 2), or its initial 32K slots
            bound = peak * 128 + max(4 * peak, 1 << 15) * 8
            self.assertLessEqual(stats["flow_table_bytes"], bound)


class Selection(unittest.TestCase):
    def stats(self, *args):
        out = run("flows", "-q", "--workers", "1", "-r", SAMPLE, "-o", "/dev/null",
                  "--stats-json", "/dev/stdout", *args)
        self.assertEqual(out.returncode, 0, out.stderr)
        return json.loads(out.stdout.splitlines()[-1])["selection"]

    def test_rules(self):
        default = self.stats()
        self.assertGreater(default["selected"], 0)
        self.assertEqual(self.stats("--select-packets", "0")["selected"], 0)
        self.assertGreater(self.stats("--select-empty")["selected"], default["selected"])
        self.assertEqual(self.stats("--select-proto", "udp")["selected"] +
                         self.stats("--select-proto", "tcp")["selected"], default["selected"])
        self.assertLess(self.stats("--select-direction", "c2s")["selected"], default["selected"])
        self.assertGreater(self.stats("--select-ports", "443")["port"], 0)
        self.assertGreater(self.stats("--select-min-payload", "1000")["short_payload"], 0)
        self.assertGreater(self.stats("--select-filter", "ip6")["select_filter"], 0)


class Interrupt(unittest.TestCase):
    SHARED = os.path.join(SOURCE, "..", "shared", "data", "ndpi", "pcap")

    def test_sigint_flushes_every_flow_and_exits_130(self):
        if not os.path.isdir(self.SHARED):
            self.skipTest("no shared captures beside the checkout")
        for command, workers in (("flows", "1"), ("flows", "2"), ("classify", "1")):
            with self.subTest(command=command, workers=workers):
                self.interrupt(command, workers)

    def interrupt(self, command, workers):
        with tempfile.TemporaryDirectory() as tmp:
            out_path = os.path.join(tmp, "flows.jsonl")
            stats_path = os.path.join(tmp, "stats.json")
            inputs = [a for _ in range(200) for a in ("-r", self.SHARED)]
            proc = subprocess.Popen([ETCPIPE, command, *inputs, "-o", out_path,
                                     "--stats-json", stats_path, "--stats-interval", "0.2",
                                     "--workers", workers],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            # Interrupt once flows are being made (start-up is slow under ASan).
            deadline = time.time() + 60
            while time.time() < deadline and proc.poll() is None:
                time.sleep(0.1)
                if not os.path.exists(stats_path):
                    continue
                with open(stats_path) as f:
                    lines = f.read().splitlines()
                if lines and json.loads(lines[-1])["flows_created"] > 1000:
                    break
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=120)
            self.assertEqual(proc.returncode, 130, err)  # 128 + SIGINT, as shells report
            self.assertIn("packets read", err)
            with open(stats_path) as f:
                stats = json.loads(f.read().splitlines()[-1])
            with open(out_path) as f:
                records = [json.loads(line) for line in f]
            self.assertTrue(stats["accounting_balanced"])
            self.assertTrue(stats["interrupted"])
            self.assertEqual(len(records), stats["flows_created"])
            # Flows still open when the run stopped say so, not end-of-input.
            reasons = {r["end_reason"] for r in records}
            self.assertIn("interrupted", reasons)
            self.assertNotIn("end-of-input", reasons)
            self.assertEqual(stats["flows_ended"]["interrupted"],
                             sum(r["end_reason"] == "interrupted" for r in records))
            self.assertLess(stats["packets_read"], 200 * 80848, "stopped early")
            if command == "classify":  # every flow went through classification
                classified = sum(1 for r in records if r["label"] is not None)
                self.assertGreater(classified, 0)
                self.assertIn(f"classified {classified} flows", err)


def cpu_seconds(pid):
    """User + system CPU time of a process, all its threads, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Signals(unittest.TestCase):
    """Runs stopped by a signal, and outputs that do not take what is written."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp()
        cls.capture = os.path.join(cls.tmp, "churn.pcap")
        # 8 s of packet time with flows ending (1 s idle) all along: records from the start.
        out = run("gen", "--flows", "5000", "--new-flows-per-sec", "50000", "--packet-size", "64",
                  "--packets", "400000", "--rate", "50000", "-w", cls.capture)
        assert out.returncode == 0, out.stderr

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def flows(self, stdout, *args):
        return subprocess.Popen([ETCPIPE, "flows", "-r", self.capture, "--udp-idle", "1",
                                 "--tcp-idle", "1", *args],
                                stdout=stdout, stderr=subprocess.PIPE, text=True)

    def test_sigterm_exits_143_with_interrupted_flows(self):
        with tempfile.TemporaryDirectory() as tmp:
            inputs = [a for _ in range(50) for a in ("-r", self.capture)]
            stats_path = os.path.join(tmp, "stats.json")
            proc = subprocess.Popen([ETCPIPE, "flows", *inputs, "-o", "/dev/null", "--workers",
                                     "2", "--stats-json", stats_path, "--stats-interval", "0.1"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            deadline = time.time() + 30
            while time.time() < deadline and not (os.path.exists(stats_path) and
                                                  os.path.getsize(stats_path)):
                time.sleep(0.05)
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=60)
            self.assertEqual(proc.returncode, 143, err)
            with open(stats_path) as f:
                stats = json.loads(f.read().splitlines()[-1])
            self.assertTrue(stats["interrupted"])
            self.assertGreater(stats["flows_ended"]["interrupted"], 0)
            self.assertEqual(stats["flows_ended"]["end-of-input"], 0)

    def test_a_blocked_output_costs_no_cpu_and_a_second_sigint_ends_the_run(self):
        for workers in ("1", "2"):
            with self.subTest(workers=workers):
                read_end, write_end = os.pipe()  # nobody reads it: the output blocks
                try:
                    proc = self.flows(write_end, "--workers", workers)
                    os.close(write_end)
                    time.sleep(2)  # the pipe and the sink's queue fill up
                    self.assertIsNone(proc.poll(), "still running, blocked on its output")
                    before = cpu_seconds(proc.pid)
                    time.sleep(3)
                    used = cpu_seconds(proc.pid) - before
                    self.assertLess(used, 0.5, "waiting on a blocked output burns no core")
                    proc.send_signal(signal.SIGINT)
                    time.sleep(0.3)
                    self.assertIsNone(proc.poll(), "one SIGINT waits for the output")
                    proc.send_signal(signal.SIGINT)
                    start = time.time()
                    proc.wait(timeout=20)
                    self.assertLess(time.time() - start, 6, "a second SIGINT ends the run")
                    self.assertEqual(proc.returncode, 130, proc.stderr.read())
                finally:
                    if proc.poll() is None:
                        proc.kill()
                        proc.wait()
                    proc.stderr.close()
                    os.close(read_end)


def load_dataset(path):
    with open(os.path.join(path, "meta.json")) as f:
        meta = json.load(f)
    with open(os.path.join(path, "flows.csv")) as f:
        flows = list(csv.DictReader(f))
    arrays = {name[:-4]: np.load(os.path.join(path, name))
              for name in meta["files"] if name.endswith(".npy")}
    return meta, flows, arrays


def row_set(arrays):
    """Each flow's row as bytes, order aside."""
    keys = sorted(k for k in arrays if k != "labels")
    n = len(arrays["labels"])
    return sorted(b"|".join(arrays[k][i].tobytes() for k in keys) for i in range(n))


class Extract(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        # The public-dataset layout: one directory per class.
        self.captures = os.path.join(self.tmp, "captures")
        for cls, names in {"mobile": ["android.pcap"], "tunnel": ["gtp.pcap", "vxlan.pcap"]}.items():
            os.makedirs(os.path.join(self.captures, cls))
            for name in names:
                shutil.copy(os.path.join(SAMPLES, name), os.path.join(self.captures, cls, name))

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def extract(self, *args, out="ds"):
        path = os.path.join(self.tmp, out)
        r = run("extract", "-r", self.captures, "-o", path, *args)
        self.assertEqual(r.returncode, 0, r.stderr)
        return (path, r.stderr, *load_dataset(path))

    def test_directory_labels_give_numpy_arrays_and_a_summary(self):
        path, err, meta, flows, a = self.extract("--preset", "nepco", "--labels-from-dirs")
        n = meta["flows"]
        self.assertGreater(n, 10)
        self.assertEqual(a["matrix"].shape, (n, 5, 128))
        self.assertEqual(a["matrix"].dtype, np.uint8)
        self.assertEqual(a["sizes"].shape, (n, 5))
        self.assertEqual(a["stats"].shape, (n, len(meta["stat_names"])))
        self.assertEqual(meta["classes"], ["mobile", "tunnel"])
        self.assertEqual(len(flows), n)
        for i, row in enumerate(flows):
            self.assertEqual(row["label"], meta["classes"][a["labels"][i]])
            self.assertIn(os.sep + row["label"] + os.sep, row["capture"])
        self.assertEqual(sum(meta["flows_per_label"].values()), n)
        self.assertIn("flows per label", err)
        self.assertRegex(err, r"mobile\s+%d" % meta["flows_per_label"]["mobile"])
        # Payload bytes only: no row starts with an IPv4 header, rows are zero-padded.
        self.assertTrue((a["payloads"] >= 0).all())
        lengths = np.minimum(a["payloads"][:, 0], 128)
        for i in range(n):
            self.assertTrue((a["matrix"][i, 0, lengths[i]:] == 0).all())
        with open(os.path.join(path, "spec.json")) as f:
            self.assertEqual(json.load(f)["bytes"], 128)

    def test_every_extractor_and_worker_count_gives_the_same_rows(self):
        args = ("--packets", "4", "--bytes", "96", "--start", "l3", "--anonymize", "random")
        _, _, _, _, ref = self.extract(*args, "--extractor", "reference", "--workers", "1",
                                       out="ref")
        for extractor in ("streaming", "batch"):
            for workers in ("1", "2"):
                _, _, _, _, other = self.extract(*args, "--extractor", extractor,
                                                 "--workers", workers, out=extractor + workers)
                self.assertEqual(row_set(other), row_set(ref), f"{extractor} x {workers}")
        self.assertEqual(ref["matrix"][0, 0, 0] >> 4, 4, "rows start at the IP header")

    def test_spec_file_travels_with_the_dataset(self):
        path, _, meta, _, a = self.extract("--preset", "yatc", "--no-stats", "--pad", "255")
        self.assertNotIn("stats", a)
        _, _, meta2, _, b = self.extract("--spec", os.path.join(path, "spec.json"), out="again")
        self.assertEqual(meta2["spec"], meta["spec"])
        self.assertEqual(row_set(b), row_set(a))

    def test_csv_labels_by_capture_and_by_five_tuple(self):
        labels = os.path.join(self.tmp, "by_capture.csv")
        with open(labels, "w") as f:
            f.write("capture,label\nandroid.pcap,Android\n")
        _, err, meta, flows, _ = self.extract("--labels-csv", labels)
        self.assertEqual(meta["classes"], ["Android"])
        self.assertTrue(all(r["capture"].endswith("android.pcap") for r in flows))
        self.assertGreater(meta["unlabeled_flows_left_out"], 0)
        self.assertIn("unlabeled left out", err)
        one = flows[0]
        labels = os.path.join(self.tmp, "by_tuple.csv")
        with open(labels, "w") as f:  # written server first: either direction matches
            f.write("src,sport,dst,dport,proto,label\n")
            f.write(f"{one['dst']},{one['dport']},{one['src']},{one['sport']},{one['proto']},X\n")
        _, _, meta, flows2, _ = self.extract("--labels-csv", labels, out="tuple")
        self.assertEqual(meta["flows_per_label"], {"X": 1})
        self.assertEqual(flows2[0]["first_ns"], one["first_ns"])

    def test_ndpi_labels_with_filters(self):
        _, _, _, flows, _ = self.extract()
        a, b = flows[0], flows[1]
        results = os.path.join(self.tmp, "result")
        os.makedirs(results)
        proto = {"6": "TCP", "17": "UDP"}

        def line(i, r, label, extra):
            return (f"\t{i}\t{proto[r['proto']]} {r['src']}:{r['sport']} <-> {r['dst']}:{r['dport']} "
                    f"[proto: 91.178/{label}][IP: 0/Unknown]{extra}[cat: Web/5]"
                    f"[4 pkts/400 bytes <-> {i} pkts/300 bytes][Goodput ratio: 1/2]\n")
        name = os.path.basename(a["capture"])
        with open(os.path.join(results, name + ".out"), "a") as f:
            f.write(line(1, a, "TLS.Amazon", "[Encrypted]"))
        name = os.path.basename(b["capture"])
        with open(os.path.join(results, name + ".out"), "a") as f:
            f.write(line(3, b, "HTTP", "[ClearText]"))
        _, _, meta, _, _ = self.extract("--labels-ndpi", results, out="all")
        self.assertEqual(meta["flows_per_label"], {"Amazon": 1, "HTTP": 1})
        _, _, meta, _, _ = self.extract("--labels-ndpi", results, "--encrypted-only", out="enc")
        self.assertEqual(meta["flows_per_label"], {"Amazon": 1})
        _, _, meta, _, _ = self.extract("--labels-ndpi", results, "--min-packets-each-way", "2",
                                        out="k")
        self.assertEqual(meta["flows_per_label"], {"HTTP": 1})

    def test_errors_are_clear(self):
        bad = os.path.join(self.tmp, "bad.json")
        with open(bad, "w") as f:
            f.write('{"packets": 3, "bites": 100}')
        r = run("extract", "-r", self.captures, "-o", os.path.join(self.tmp, "x"), "--spec", bad)
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown feature spec field 'bites'", r.stderr)
        r = run("extract", "-r", self.captures, "-o", os.path.join(self.tmp, "x"),
                "--labels-from-dirs", "--labels-csv", bad)
        self.assertEqual(r.returncode, 2)
        self.assertIn("excludes", r.stderr)
        r = run("extract", "-r", self.captures)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--output", r.stderr)
        r = run("extract", "-r", self.captures, "-o", os.path.join(self.tmp, "x"),
                "--start", "payload", "--header-bytes", "8")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--header-bytes needs --start l3 or l4", r.stderr)


class Outputs(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def test_jsonl_csv_and_sqlite_hold_the_same_flows(self):
        out = run("flows", "-r", SAMPLE, "-o", self.path("f.jsonl"), "-o", "csv:" + self.path("f.csv"),
                  "-o", "sqlite:" + self.path("f.db"), "--stats-json", self.path("s.json"))
        self.assertEqual(out.returncode, 0, out.stderr)
        with open(self.path("f.jsonl")) as f:
            jsonl = [json.loads(line) for line in f]
        with open(self.path("f.csv")) as f:
            rows = list(csv.DictReader(f))
        self.assertEqual(list(rows[0].keys()), list(jsonl[0].keys()), "same columns, same order")
        self.assertEqual(len(rows), len(jsonl))
        for r, j in zip(rows, jsonl):
            for key, value in j.items():
                if isinstance(value, float):  # times: JSON numbers, CSV text
                    self.assertAlmostEqual(float(r[key]), value, places=6)
                else:
                    self.assertEqual(r[key], str(value), key)
        db = sqlite3.connect(self.path("f.db"))
        self.assertEqual(db.execute("pragma journal_mode").fetchone()[0], "wal")
        (n,) = db.execute("select count(*) from flows").fetchone()
        self.assertEqual(n, len(jsonl))
        (pkts,) = db.execute("select sum(pkts_fwd + pkts_rev) from flows").fetchone()
        self.assertEqual(pkts, sum(j["pkts_fwd"] + j["pkts_rev"] for j in jsonl))
        run_row = db.execute("select finished_at, command, statistics from runs").fetchone()
        self.assertIsNotNone(run_row[0])
        self.assertIn("sqlite:", run_row[1])
        self.assertEqual(json.loads(run_row[2])["flows_created"], n)
        db.close()
        # A second run adds a run and its flows.
        run("flows", "-r", SAMPLE, "-q", "-o", "sqlite:" + self.path("f.db"))
        db = sqlite3.connect(self.path("f.db"))
        self.assertEqual(db.execute("select count(*) from runs").fetchone()[0], 2)
        self.assertEqual(db.execute("select count(*) from flows where run_id = 2").fetchone()[0], n)

    def test_sqlite_survives_sigkill(self):
        capture = self.path("churn.pcap")
        gen = run("gen", "--flows", "20000", "--new-flows-per-sec", "20000", "--packet-size", "64",
                  "--packets", "4000000", "--rate", "200000", "-w", capture)
        self.assertEqual(gen.returncode, 0, gen.stderr)
        db_path = self.path("k.db")
        proc = subprocess.Popen([ETCPIPE, "flows", "-r", capture, "-q", "-o", "sqlite:" + db_path,
                                 "--workers", "1", "--tcp-idle", "1", "--udp-idle", "1"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        def committed():
            try:
                db = sqlite3.connect(db_path)
                return db.execute("select count(*) from flows").fetchone()[0] > 0
            except sqlite3.Error:  # not created yet
                return False

        for _ in range(100):  # until some batches are committed, 10 s at most
            if proc.poll() is not None or (os.path.exists(db_path) and committed()):
                break
            time.sleep(0.1)
        self.assertIsNone(proc.poll(), "the run ended before it could be killed")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        db = sqlite3.connect(db_path)
        self.assertEqual(db.execute("pragma integrity_check").fetchone()[0], "ok")
        (n,) = db.execute("select count(*) from flows").fetchone()
        self.assertGreater(n, 0)
        self.assertIsNone(db.execute("select finished_at from runs").fetchone()[0], "killed run")

    def test_pcap_holds_the_selected_packets(self):
        out = run("flows", "-r", SAMPLE, "-o", "/dev/null", "-o", "pcap:" + self.path("sel.pcap"),
                  "--stats-json", "/dev/stdout")
        self.assertEqual(out.returncode, 0, out.stderr)
        selected = json.loads(out.stdout.splitlines()[-1])["selection"]["selected"]
        self.assertIn(f"pcap: {selected} selected packets written", out.stderr)
        again = run("flows", "-r", self.path("sel.pcap"), "-o", "/dev/null", "--stats-json",
                    "/dev/stdout")
        stats = json.loads(again.stdout.splitlines()[-1])
        self.assertEqual(stats["packets_read"], selected)
        self.assertEqual(stats["selection"]["selected"], selected, "the same packets, selected again")

    def free_port(self, kind=socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    def test_ipfix_round_trip_through_nfcapd(self):
        if shutil.which("nfcapd") is None or shutil.which("nfdump") is None:
            self.skipTest("nfdump's nfcapd/nfdump not installed (scripts/install-deps.sh does)")
        flowdir = self.path("nf")
        for command in ("flows", "classify"):  # classify adds the verdict elements
            with self.subTest(command=command):
                self.nfcapd_round_trip(command, os.path.join(flowdir, command))

    def nfcapd_round_trip(self, command, flowdir):
        port = self.free_port()
        os.makedirs(flowdir)
        collector = subprocess.Popen(["nfcapd", "-b", "127.0.0.1", "-p", str(port), "-w", flowdir,
                                      "-t", "3600"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.5)
            out = run(command, "-r", SAMPLE, "-o", self.path("f.jsonl"), "-o",
                      f"ipfix:127.0.0.1:{port}")
            self.assertEqual(out.returncode, 0, out.stderr)
            time.sleep(0.5)
        finally:
            collector.send_signal(signal.SIGTERM)
            collector.wait(timeout=10)
        # All the collector's files: a run across an hour boundary is in two.
        dump = subprocess.run(["nfdump", "-R", flowdir, "-q", "-o", "csv"],
                              capture_output=True, text=True, timeout=60)
        names = {"ICMP6": "ICMPv6"}  # nfdump's spelling
        got = sorted((c[3], c[5] if c[7] in ("TCP", "UDP") else "0", c[4],
                      c[6] if c[7] in ("TCP", "UDP") else "0", names.get(c[7], c[7]),
                      c[11], c[12], c[13], c[14])
                     for c in csv.reader(dump.stdout.splitlines()) if len(c) > 14)
        with open(self.path("f.jsonl")) as f:
            sent = sorted((r["src_ip"], str(r["src_port"]), r["dst_ip"], str(r["dst_port"]),
                           r["proto"], str(r["pkts_fwd"]), str(r["bytes_fwd"]),
                           str(r["pkts_rev"]), str(r["bytes_rev"]))
                          for r in map(json.loads, f))
        self.assertGreater(len(sent), 50)
        self.assertEqual(got, sent, "addresses, ports, protocol and counters both ways")
        self.assertIn(f"ipfix: {len(sent)} records sent, 0 dropped", out.stderr)

    def test_ipfix_collector_gone_is_counted_not_fatal(self):
        port = self.free_port()  # nobody listens: the kernel refuses, etcpipe counts
        out = run("flows", "-r", SAMPLES, "-o", "/dev/null", "-o", f"ipfix:127.0.0.1:{port}")
        self.assertEqual(out.returncode, 0, out.stderr)
        _, dropped = map(int, re.search(r"ipfix: (\d+) records sent, (\d+) dropped",
                                           out.stderr).groups())
        self.assertGreater(dropped, 0)

    def ipfix_over_tcp(self, command):
        """Runs `command` on the sample with JSON Lines on stdout and IPFIX over TCP to a
        socket of the test's; returns the stdout and the IPFIX stream."""
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        proc = subprocess.Popen([ETCPIPE, command, "-r", SAMPLE, "-q", "-o", "-", "-o",
                                 f"ipfix-tcp:127.0.0.1:{port}"], stdout=subprocess.PIPE, text=True)
        conn, _ = server.accept()
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
        stdout, _ = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 0)
        conn.close()
        server.close()
        return stdout, data

    def parse_ipfix(self, data):
        """The template sets seen, and the data records as {(element, enterprise): bytes},
        each decoded with the template its set names."""
        templates, template_sets, got, offset = {}, 0, [], 0
        while offset < len(data):  # IPFIX messages: version 10, length, then sets
            version, length = struct.unpack_from("!HH", data, offset)
            self.assertEqual(version, 10)
            pos = offset + 16
            while pos < offset + length:
                set_id, set_len = struct.unpack_from("!HH", data, pos)
                body, end = pos + 4, pos + set_len
                if set_id == 2:
                    template_sets += 1
                    while body < end:
                        tid, count = struct.unpack_from("!HH", data, body)
                        body += 4
                        fields = []
                        for _ in range(count):
                            ie, size = struct.unpack_from("!HH", data, body)
                            body += 4
                            pen = 0
                            if ie & 0x8000:
                                pen = struct.unpack_from("!I", data, body)[0]
                                body += 4
                            fields.append((ie & 0x7FFF, pen, size))
                        templates[tid] = fields
                else:
                    fields = templates[set_id]
                    size = sum(f[2] for f in fields)
                    while body + size <= end:
                        rec = {}
                        for ie, pen, n in fields:
                            rec[(ie, pen)] = data[body:body + n]
                            body += n
                        got.append(rec)
                pos = end
            offset += length
        return template_sets, got

    def test_ipfix_over_tcp(self):
        stdout, data = self.ipfix_over_tcp("flows")
        template_sets, got = self.parse_ipfix(data)
        self.assertEqual(template_sets, 1, "templates once over TCP")
        sent = [json.loads(line) for line in stdout.splitlines()]
        self.assertEqual(len(got), len(sent))
        for rec, r in zip(got, sent):
            self.assertEqual(struct.unpack("!H", rec[(7, 0)])[0], r["src_port"])
            self.assertEqual(struct.unpack("!Q", rec[(2, 0)])[0], r["pkts_fwd"])
            self.assertEqual(struct.unpack("!Q", rec[(2, 29305)])[0], r["pkts_rev"])

    def ipfix_churn(self, server, copies):
        """flows over a generated capture with records all along, IPFIX over TCP to `server`."""
        capture = self.path("ipfix_churn.pcap")
        if not os.path.exists(capture):
            run("gen", "--flows", "20000", "--new-flows-per-sec", "20000", "--packet-size", "64",
                "--packets", "1000000", "--rate", "200000", "-w", capture)
        inputs = [a for _ in range(copies) for a in ("-r", capture)]
        port = server.getsockname()[1]
        return subprocess.Popen([ETCPIPE, "flows", *inputs, "-o", "/dev/null", "--workers", "1",
                                 "--udp-idle", "1", "--tcp-idle", "1",
                                 "-o", f"ipfix-tcp:127.0.0.1:{port}"],
                                stderr=subprocess.PIPE, text=True)

    def collect_ipfix(self, conn, server, proc):
        """What the exporter sends on `conn` until the run ends, and the run's stderr."""
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
        _, err = proc.communicate(timeout=60)
        conn.close()
        server.close()
        self.assertEqual(proc.returncode, 0, err)
        return data, err

    def ipfix_counts(self, stderr):
        m = re.search(r"ipfix: (\d+) records sent, (\d+) dropped[^,\n]*(?:, (\d+) reconnections)?",
                      stderr)
        self.assertIsNotNone(m, stderr)
        return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)

    def test_ipfix_over_tcp_to_a_slow_collector_keeps_whole_messages(self):
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        proc = self.ipfix_churn(server, 2)
        conn, _ = server.accept()
        time.sleep(1.5)  # reads nothing for a while: the window fills, sends go in part
        data, err = self.collect_ipfix(conn, server, proc)
        sent, dropped, _ = self.ipfix_counts(err)
        # Before: the connection was closed after the first message taken in part, leaving a
        # cut message and every later record dropped.
        template_sets, got = self.parse_ipfix(data)  # whole messages, back to back
        self.assertEqual(template_sets, 1)
        self.assertEqual(len(got), sent)
        self.assertGreater(sent, 0)

    def test_ipfix_over_tcp_connects_again_after_the_collector_drops_it(self):
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.bind(("127.0.0.1", 0))
        server.listen(2)
        proc = self.ipfix_churn(server, 6)
        first, _ = server.accept()
        first.recv(65536)
        first.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        first.close()  # a reset: the collector restarted
        server.settimeout(30)
        second, _ = server.accept()
        data, err = self.collect_ipfix(second, server, proc)
        sent, dropped, reconnects = self.ipfix_counts(err)
        self.assertGreaterEqual(reconnects, 1, err)
        template_sets, got = self.parse_ipfix(data)  # the new session starts with templates
        self.assertGreaterEqual(template_sets, 1)
        self.assertGreater(len(got), 0)

    def test_ipfix_verdict_elements_when_classifying(self):
        stdout, data = self.ipfix_over_tcp("classify")
        _, got = self.parse_ipfix(data)
        sent = [json.loads(line) for line in stdout.splitlines()]
        self.assertEqual(len(got), len(sent))
        pen = 32473  # etcpipe's verdict elements: 1 label (32 bytes), 2 confidence (float32)
        for rec, r in zip(got, sent):
            self.assertEqual(struct.unpack("!H", rec[(7, 0)])[0], r["src_port"])
            self.assertEqual(rec[(1, pen)].rstrip(b"\0").decode(), r["label"] or "")
            self.assertAlmostEqual(struct.unpack("!f", rec[(2, pen)])[0], r["confidence"] or 0.0,
                                   delta=1e-5)

    def test_prometheus_metrics_while_running(self):
        port = self.free_port(socket.SOCK_STREAM)
        # A run long enough to be seen: one pass over the capture ends within the first
        # refresh of the served snapshot since files are read in place.
        proc = self.slow_run("--tcp-idle", "1", "--udp-idle", "1", "--metrics",
                             f"127.0.0.1:{port}")
        body = ""
        for _ in range(100):  # 10 s at most, until a snapshot with packets is served
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                    self.assertTrue(r.headers["Content-Type"].startswith("text/plain"))
                    body = r.read().decode()
                if re.search(r"^etcpipe_packets_read_total [1-9]", body, re.M):
                    break
            except OSError:
                pass
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        self.assertEqual(proc.wait(timeout=60), 130, proc.stderr.read())
        samples = {}
        for line in body.splitlines():
            if not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                samples[name] = int(value)
        self.assertGreater(samples["etcpipe_packets_read_total"], 0, body)
        self.assertIn('etcpipe_flows_ended_total{reason="idle"}', samples)
        self.assertIn("# TYPE etcpipe_flows_active gauge", body)
        self.assertEqual(samples["etcpipe_packets_read_total"],
                         sum(v for k, v in samples.items() if k.startswith("etcpipe_packets_total{")))

    def slow_run(self, *args):
        """A run that lasts (a capture read at most ~ 20 s), for --metrics tests."""
        capture = self.path("churn.pcap")
        if not os.path.exists(capture):
            run("gen", "--flows", "20000", "--new-flows-per-sec", "20000", "--packet-size", "64",
                "--packets", "4000000", "--rate", "200000", "-w", capture)
        inputs = [a for _ in range(20) for a in ("-r", capture)]
        return subprocess.Popen([ETCPIPE, "flows", *inputs, "-q", "-o", "/dev/null", "--workers",
                                 "1", *args], stderr=subprocess.PIPE, text=True)

    def scrape(self, url, deadline):
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=1) as r:
                    return r.read().decode()
            except OSError:
                time.sleep(0.1)
        return None

    def test_idle_metrics_clients_do_not_starve_a_scraper(self):
        port = self.free_port(socket.SOCK_STREAM)
        proc = self.slow_run("--metrics", f"127.0.0.1:{port}")
        idle = []
        try:
            url = f"http://127.0.0.1:{port}/metrics"
            self.assertIsNotNone(self.scrape(url, time.time() + 20), "the server answers")
            for _ in range(16):  # connect, send nothing
                idle.append(socket.create_connection(("127.0.0.1", port), timeout=5))
            start = time.time()
            body = self.scrape(url, start + 10)
            self.assertIsNotNone(body)
            self.assertIn("etcpipe_packets_read_total", body)
            self.assertLess(time.time() - start, 3, "answered while 16 clients sit idle")
        finally:
            for c in idle:
                c.close()
            proc.kill()
            proc.wait()
            proc.stderr.close()

    def test_metrics_on_every_address_with_an_empty_host(self):
        port = self.free_port(socket.SOCK_STREAM)
        proc = self.slow_run("--metrics", f":{port}")
        try:
            # Bound to every address: IPv4 loopback answers (it was [::1] only before).
            body = self.scrape(f"http://127.0.0.1:{port}/metrics", time.time() + 20)
            self.assertIsNotNone(body)
            self.assertIn("etcpipe_packets_read_total", body)
        finally:
            proc.kill()
            proc.wait()
            proc.stderr.close()

    def test_a_full_disk_is_reported_and_the_other_sinks_finish(self):
        if not os.path.exists("/dev/full"):
            self.skipTest("no /dev/full")
        out = run("flows", "-r", SAMPLE, "-q", "-o", "/dev/full", "-o", "csv:" + self.path("f.csv"))
        self.assertEqual(out.returncode, 2)
        self.assertIn("/dev/full: write failed: No space left on device", out.stderr)
        flows = run("flows", "-r", SAMPLE, "-q").stdout.splitlines()
        with open(self.path("f.csv")) as f:
            self.assertEqual(len(f.read().splitlines()), len(flows) + 1)

    def test_a_failed_pcap_write_is_reported_and_the_other_sinks_finish(self):
        if not os.path.exists("/dev/full"):
            self.skipTest("no /dev/full")
        out = run("flows", "-r", SAMPLE, "-o", "pcap:/dev/full", "-o", self.path("f.jsonl"))
        self.assertEqual(out.returncode, 2, out.stderr)
        self.assertIn("/dev/full: write failed: No space left on device", out.stderr)
        self.assertNotIn("selected packets written", out.stderr)
        with open(self.path("f.jsonl")) as f:
            self.assertEqual(len(f.read().splitlines()),
                             len(run("flows", "-r", SAMPLE, "-q").stdout.splitlines()))
        out = run("flows", "-r", SAMPLE, "-q", "-o", "pcap:" + self.path("no/such/dir/x.pcap"))
        self.assertEqual(out.returncode, 2, out.stderr)
        self.assertIn("no/such/dir/x.pcap", out.stderr)

    def test_an_output_that_is_an_input_is_refused(self):
        capture = self.path("in.pcap")
        shutil.copy(SAMPLE, capture)
        with open(capture, "rb") as f:
            before = f.read()
        os.link(capture, self.path("hardlink.pcap"))
        os.symlink(capture, self.path("symlink.pcap"))
        for read, output in ((capture, "pcap:" + capture), (capture, capture),
                             (capture, "csv:" + self.path("hardlink.pcap")),
                             (self.tmp, "sqlite:" + self.path("symlink.pcap")),
                             (capture, "--stats-json")):
            with self.subTest(read=read, output=output):
                args = (["--stats-json", capture] if output == "--stats-json"
                        else ["-o", output])
                out = run("flows", "-r", read, *args)
                self.assertEqual(out.returncode, 2, out.stderr)
                self.assertIn("is an input", out.stderr)
                with open(capture, "rb") as f:
                    self.assertEqual(f.read(), before)

    def test_bad_output_kinds_are_clear_errors(self):
        out = run("flows", "-r", SAMPLE, "-o", "ipfux:x")
        self.assertEqual(out.returncode, 2)
        self.assertIn("KIND must be jsonl, csv, sqlite, mysql, ipfix, ipfix-tcp or pcap", out.stderr)
        out = run("flows", "-r", SAMPLE, "-o", "sqlite:" + self.path("no/such/dir/x.db"))
        self.assertEqual(out.returncode, 2)
        self.assertIn("cannot open", out.stderr)


class Generator(unittest.TestCase):
    def test_gen_writes_a_capture_that_flows_reads(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "gen.pcap")
            out = run("gen", "--flows", "500", "--packets", "20000", "--packet-size", "64,1000",
                      "--ipv6-share", "0.5", "--seed", "7", "-w", path)
            self.assertEqual(out.returncode, 0, out.stderr)
            flows = run("flows", "-r", path, "-o", "/dev/null", "--stats-json", "/dev/stdout")
            stats = json.loads(flows.stdout.splitlines()[-1])
            self.assertEqual(stats["packets_read"], 20000)
            self.assertEqual(stats["packets_in_flows"], 20000)
            self.assertGreaterEqual(stats["flows_created"], 500)
            again = os.path.join(tmp, "again.pcap")
            run("gen", "--flows", "500", "--packets", "20000", "--packet-size", "64,1000",
                "--ipv6-share", "0.5", "--seed", "7", "-w", again)
            with open(path, "rb") as a, open(again, "rb") as b:
                self.assertEqual(a.read(), b.read(), "same seed, same packets")

    def test_gen_work_is_bounded_by_packets(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "gen.pcap")
            for args in (["--packets", "10", "--rate", "1e-2", "--new-flows-per-sec", "1e6"],
                         ["--packets", "1000", "--rate", "1", "--new-flows-per-sec", "1e9"],
                         ["--packets", "10", "--rate", "1e-6"]):
                with self.subTest(args=args):
                    start = time.time()
                    out = run("gen", "-w", path, *args)
                    self.assertLess(time.time() - start, 5, "birth rate against packet rate")
                    self.assertEqual(out.returncode, 0, out.stderr)
                    flows = run("flows", "-q", "-r", path, "--stats-json", "/dev/stderr",
                                "-o", "/dev/null")
                    self.assertEqual(json.loads(flows.stderr)["packets_read"],
                                     int(args[1]))
            # A high birth rate still gives new flows (each packet nearly always a new one).
            run("gen", "-w", path, "--flows", "100", "--packets", "1000", "--rate", "1",
                "--new-flows-per-sec", "1e9")
            flows = run("flows", "-q", "-r", path, "--stats-json", "/dev/stderr", "-o", "/dev/null")
            self.assertGreater(json.loads(flows.stderr)["flows_created"], 900)

    def test_gen_refuses_nonsense_with_a_usage_error(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "gen.pcap")
            for args, said in ((["--duration", "1e12", "--rate", "1e12"], "--duration"),
                               (["--duration", "1e-9", "--rate", "10"], "no packet"),
                               (["--packets", "1000000", "--rate", "1e-6"], "--rate"),
                               (["--rate", "nan"], "--rate"),
                               (["--new-flows-per-sec", "inf"], "--new-flows-per-sec"),
                               (["--duration", "-1"], "--duration")):
                with self.subTest(args=args):
                    start = time.time()
                    out = run("gen", "-w", path, *args)
                    self.assertLess(time.time() - start, 5)
                    self.assertEqual(out.returncode, 2, out.stderr)
                    self.assertIn(said, out.stderr)

    def test_bench_prints_one_json_line(self):
        out = run("bench", "--flows", "1000", "--packets", "50000", "--workers", "2", "--json")
        self.assertEqual(out.returncode, 0, out.stderr)
        lines = out.stdout.splitlines()
        self.assertEqual(len(lines), 1)
        r = json.loads(lines[0])
        for key in ("mpps", "mpps_per_worker", "gbps", "flows_active_peak", "bytes_per_flow",
                    "peak_rss_mb", "drops"):
            self.assertIn(key, r)
        self.assertGreater(r["mpps"], 0)
        self.assertGreaterEqual(r["flows_active_peak"], 1000)
        self.assertEqual(r["drops"], 0)


if __name__ == "__main__":
    # Test names (Class or Class.test_name) may follow the two arguments.
    unittest.main(argv=[sys.argv[0], *sys.argv[3:]], verbosity=2)
