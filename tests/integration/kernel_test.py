#!/usr/bin/env python3
"""In-kernel classification (classify --in-kernel) on a capture replayed through the live
tests' veth pair: the XDP program classifies flows at their K-th selected packet with the
shipped kernel model (models/kernel), every kernel verdict equals the user-space prediction
of the same integer model on the values the kernel kept (the run's own check, flow by flow),
the records say where each verdict was made, and a confidence floor hands flows to user space.

Usage: kernel_test.py ETCPIPE_BINARY SOURCE_DIR SHARED_DATA_DIR [TEST...]
Skipped (exit 77) where namespaces cannot be made (not root) or tcpreplay is missing."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import unittest

import live_test
from live_test import ETCPIPE, RECEIVER, SOURCE, read, replay, wait_listening

MODEL = os.path.join(SOURCE, "models", "kernel")
SAMPLE = os.path.join(SOURCE, "data", "samples", "android.pcap")


class InKernel(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="etcpipe-kernel-")

    def tearDown(self):
        live_test.stop_captures()
        self.tmp.cleanup()

    def classify(self, name, *args):
        """Records and the last statistics of a run that captured the sample's replay."""
        out = os.path.join(self.tmp.name, name + ".jsonl")
        stats = os.path.join(self.tmp.name, name + ".json")
        err = os.path.join(self.tmp.name, name + ".err")
        with open(err, "w") as e:
            proc = subprocess.Popen(
                ["ip", "netns", "exec", RECEIVER, ETCPIPE, "classify", "-i", RECEIVER,
                 "--in-kernel", "--model", MODEL, "-o", out, "--stats-json", stats,
                 "--duration", "60", *args], stdout=subprocess.DEVNULL, stderr=e)
        wait_listening(proc, err)
        replay(SAMPLE, "--pps", "2000")
        proc.send_signal(signal.SIGINT)
        self.assertEqual(proc.wait(timeout=60), 0, read(err))
        with open(out) as f:
            records = [json.loads(line) for line in f]
        with open(stats) as f:
            last = json.loads(f.read().splitlines()[-1])
        return records, last["classification"]["in_kernel"], read(err)

    def test_kernel_verdicts_equal_user_space_on_the_same_values_and_records_say_so(self):
        records, k, err = self.classify("all")
        with open(os.path.join(MODEL, "labels.json")) as f:
            classes = json.load(f)["classes"]
        kernel = [r for r in records if r["decided_in"] == "kernel"]
        print(f"\n{len(kernel)} of {len(records)} flows decided in the kernel: {k}",
              file=sys.stderr)
        self.assertGreaterEqual(len(kernel), 10, err)
        self.assertEqual(k["flows_kernel"], len(kernel))
        self.assertEqual(k["verdicts_differing_from_user_space"], 0, err)
        self.assertEqual(k["xdp_decided"], len(kernel))  # every one reached its record
        for r in kernel:
            self.assertIn(r["label"], classes)
            self.assertTrue(0 < r["confidence"] <= 1)
            self.assertIn(r["proto"], ("TCP", "UDP"))
            self.assertIsNone(r["action"])  # no --enforce rule
        for r in records:
            self.assertIn(r["decided_in"], ("kernel", "user", None))
        self.assertIn("decided there", err)
        # The same flows with AF_XDP, where the program redirects what it does not act on.
        records, k_xsk, err = self.classify("afxdp", "--capture", "afxdp")
        self.assertEqual(k_xsk["flows_kernel"], k["flows_kernel"], err)
        self.assertEqual(k_xsk["verdicts_differing_from_user_space"], 0, err)

    def test_below_the_confidence_floor_flows_go_on_to_user_space(self):
        _, all_in_kernel, _ = self.classify("all")
        records, k, err = self.classify("floor", "--in-kernel-min-confidence", "0.9")
        self.assertGreater(k["flows_below_confidence"], 0, err)
        self.assertLess(k["flows_kernel"], all_in_kernel["flows_kernel"])
        self.assertEqual(k["flows_kernel"] + k["flows_below_confidence"],
                         all_in_kernel["flows_kernel"])
        for r in records:
            if r["decided_in"] == "kernel":
                self.assertGreaterEqual(r["confidence"], 0.9 - 1e-4)
        # The flows left to user space are classified there by the cascade model.
        default = os.path.join(SOURCE, "models", "default")
        records, k, err = self.classify("cascade", "--in-kernel-min-confidence", "0.9",
                                        "--cascade-model", default)
        self.assertIn("with default", err)
        user = [r for r in records if r["decided_in"] == "user"]
        self.assertGreater(len(user), 0, err)
        self.assertGreater(k["flows_below_confidence"], 0, err)

    def test_a_drop_rule_acts_in_the_kernel_and_records_keep_every_packet(self):
        plain, _, _ = self.classify("plain")
        records, k, err = self.classify("drop", "--enforce", "drop:other")
        dropped = [r for r in records if r["action"] == "drop"]
        self.assertGreater(len(dropped), 0, err)
        for r in dropped:
            self.assertEqual((r["decided_in"], r["label"]), ("kernel", "other"))
        # XDP's counts of the packets it dropped are in the records: no packet is lost.
        total = lambda rs: sum(r["pkts_fwd"] + r["pkts_rev"] for r in rs)
        self.assertEqual(total(records), total(plain))
        self.assertIn("flows left to the kernel's verdict", err)

    def test_it_runs_on_live_traffic_only_and_says_what_goes_with_it(self):
        def run(*args):
            return subprocess.run([ETCPIPE, "classify", *args], capture_output=True, text=True)
        out = run("-r", SAMPLE, "--in-kernel", "--model", MODEL)
        self.assertEqual(out.returncode, 2)
        self.assertIn("--in-kernel classifies in XDP, on live traffic (-i)", out.stderr)
        out = run("-r", SAMPLE, "--cascade-model", MODEL)
        self.assertEqual(out.returncode, 2)
        self.assertIn("--cascade-model goes with --in-kernel", out.stderr)
        out = subprocess.run(["ip", "netns", "exec", RECEIVER, ETCPIPE, "classify", "-i",
                              RECEIVER, "--in-kernel", "--duration", "1"],
                             capture_output=True, text=True)
        self.assertEqual(out.returncode, 2)  # the default model has no integer form
        self.assertIn("kernel.json: cannot open", out.stderr)


def main():
    return live_test.main_in_lab("kernel_test", ("tcpreplay", "ip"))


if __name__ == "__main__":
    sys.exit(main())
