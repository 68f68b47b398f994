#!/usr/bin/env python3
"""The traffic lab (lab/generate) on two classes: every run recorded, every labelled flow
found by `etcpipe flows` in its run's capture, and nothing left behind, also when the lab
is stopped by SIGTERM in the middle of a run.

Usage: lab_test.py ETCPIPE_BINARY SOURCE_DIR [TEST...]
Skipped (exit 77) where namespaces cannot be made (not root) or a class's tool is missing
(lab/install.sh openvpn-udp https-http2)."""
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

ETCPIPE, SOURCE = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
GENERATE = os.path.join(SOURCE, "lab", "generate")
CLASSES = ["openvpn-udp", "https-http2"]
SKIP = 77
PREFIX = f"etcpipe-lab-test-{os.getpid()}-"


def lab_namespaces():
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.startswith("etclab")]


def lab_processes():
    """Processes still running with the test's output directory in their command line (the
    lab's servers and clients are given their files there)."""
    out = subprocess.run(["pgrep", "-a", "-f", PREFIX], capture_output=True, text=True).stdout
    return out.strip().splitlines()


class Lab(unittest.TestCase):
    def setUp(self):
        self.out = tempfile.mkdtemp(prefix=PREFIX)

    def tearDown(self):
        shutil.rmtree(self.out, ignore_errors=True)

    def test_two_classes_every_labelled_flow_is_in_its_capture(self):
        start = time.time()
        p = subprocess.run([GENERATE, "--out", self.out, "--seed", "7", "--classes",
                            ",".join(CLASSES), "--runs-per-class", "2"],
                           capture_output=True, text=True, timeout=120)
        print(p.stderr)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertLess(time.time() - start, 120)
        runs = [json.loads(line) for line in open(os.path.join(self.out, "runs.jsonl"))]
        self.assertEqual([r["class"] for r in runs], [c for c in CLASSES for _ in range(2)])
        with open(os.path.join(self.out, "labels.csv")) as f:
            labels = list(csv.DictReader(f))
        for run in runs:
            self.assertNotIn("error", run)
            self.assertGreaterEqual(run["flows"], 1)
            subprocess.run([ETCPIPE, "flows", "-q", "-r", os.path.join(self.out, run["capture"]),
                            "-o", os.path.join(self.out, "flows.jsonl")], check=True)
            seen = set()
            for line in open(os.path.join(self.out, "flows.jsonl")):
                r = json.loads(line)
                a, b = (r["src_ip"], r["src_port"]), (r["dst_ip"], r["dst_port"])
                seen.add((min(a, b), max(a, b), r["proto"]))
            ours = [x for x in labels if x["label"] == run["class"]]
            found = 0
            for x in ours:
                a, b = (x["src"], int(x["sport"])), (x["dst"], int(x["dport"]))
                if (min(a, b), max(a, b), x["proto"]) in seen:
                    found += 1
            # Each run has a subnet of its own: the class's other run's flows are not here.
            self.assertEqual(found, run["flows"], run)
        self.assertEqual(lab_namespaces(), [])
        self.assertEqual(lab_processes(), [])

    def test_sigterm_in_a_run_removes_its_namespaces_and_processes(self):
        p = subprocess.Popen([GENERATE, "--out", self.out, "--seed", "8", "--classes", "openvpn-udp",
                              "--runs-per-class", "3"], stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 30
        while not lab_namespaces() and time.time() < deadline:  # a run has begun
            time.sleep(0.05)
        self.assertNotEqual(lab_namespaces(), [])
        time.sleep(1.0)
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 130, err)
        self.assertIn("interrupted", err)
        self.assertEqual(lab_namespaces(), [])
        self.assertEqual(lab_processes(), [])

    def test_what_a_lab_killed_with_sigkill_left_is_removed_at_the_next_start(self):
        p = subprocess.Popen([GENERATE, "--out", self.out, "--seed", "9", "--classes", "openvpn-udp",
                              "--runs-per-class", "3"], stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while len(lab_namespaces()) < 2 and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)
        p.kill()
        p.wait()
        self.assertEqual(len(lab_namespaces()), 2)
        self.assertNotEqual(lab_processes(), [])
        subprocess.run([GENERATE, "--out", os.path.join(self.out, "next"), "--seed", "10", "--classes",
                        "openvpn-udp"], check=True, capture_output=True, timeout=60)
        self.assertEqual(lab_namespaces(), [])
        self.assertEqual(lab_processes(), [])

    def test_netem_delay_reaches_the_capture_and_runs_in_parallel(self):
        """--netem "delay 30ms 5ms" on both ends: at the server, a TCP handshake's ACK comes
        at least 2 x 25 ms after its SYN (the SYN-ACK's way out and the ACK's way back);
        two classes at once (--jobs 2) are both recorded."""
        p = subprocess.run([GENERATE, "--out", self.out, "--seed", "11", "--classes", "https-http2,openvpn-udp",
                            "--netem", "delay 30ms 5ms", "--jobs", "2"],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        runs = {r["class"]: r for r in map(json.loads, open(os.path.join(self.out, "runs.jsonl")))}
        self.assertEqual(sorted(runs), ["https-http2", "openvpn-udp"])
        https = runs["https-http2"]
        self.assertEqual(https["conditions"]["delay_ms"], 30.0)
        self.assertEqual(https["conditions"]["jitter_ms"], 5.0)
        self.assertIn(https["link"], ("netem", "nfqueue"))
        out = subprocess.run(["tcpdump", "-nn", "-tt", "-c", "3", "-r", os.path.join(self.out, https["capture"]),
                              "tcp port 443"], capture_output=True, text=True, check=True).stdout.splitlines()
        syn, ack = float(out[0].split()[0]), float(out[2].split()[0])
        self.assertGreaterEqual(ack - syn, 0.050, out)
        self.assertEqual(lab_namespaces(), [])

    def test_usage_errors_are_one_clear_line(self):
        p = subprocess.run([GENERATE, "--out", self.out, "--classes", "openvpn-udp,nonesuch"],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown class(es) nonesuch", p.stderr)
        p = subprocess.run([GENERATE, "--list"], capture_output=True, text=True, check=True)
        self.assertGreaterEqual(len(p.stdout.splitlines()), 10)
        self.assertIn("openvpn-udp", p.stdout)
        p = subprocess.run([GENERATE, "--out", self.out, "--classes", "https-http2", "--netem",
                            "delay 20ms reorder 25%"],
                           capture_output=True, text=True)
        if "no netem qdisc" in p.stderr:  # this kernel: the NFQUEUE stage cannot reorder
            self.assertEqual(p.returncode, 2)
            self.assertIn("'reorder'", p.stderr)
        p = subprocess.run([GENERATE, "--out", self.out, "--netem", "delay soon"],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 2)
        self.assertIn("'soon' is not a time", p.stderr)
        # An output directory of an earlier lab is not written over (its captures would stay).
        open(os.path.join(self.out, "runs.jsonl"), "w").close()
        p = subprocess.run([GENERATE, "--out", self.out, "--classes", "https-http2"],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 2)
        self.assertIn("holds a lab output already", p.stderr)


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("skipped: the lab needs root (network namespaces)")
        sys.exit(SKIP)
    missing = [t for t in ("openvpn", "nginx", "curl", "tcpdump", "openssl") if not shutil.which(t)]
    if missing:
        print(f"skipped: {' '.join(missing)} not installed (lab/install.sh {' '.join(CLASSES)})")
        sys.exit(SKIP)
    unittest.main(argv=[sys.argv[0]] + sys.argv[3:], verbosity=2)
