#!/usr/bin/env python3
"""Enforcement in XDP (--enforce, --inline-to), in namespaces the test makes and removes:
client | middle | server, the middle a router joined to each by a veth pair, and a bridge
namespace joining a second pair of client and server interfaces through etcpipe's inline
mode. Real TCP transfers (tests/integration/lab_traffic.py) are classified by a test model
(test_model.py) with two classes: "bulk" (the server sends packets over 600 bytes) and
"chat".

Usage: enforce_test.py ETCPIPE_BINARY SOURCE_DIR SHARED_DATA_DIR [TEST...]
Skipped (exit 77) where namespaces cannot be made (not root) or a tool is missing."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import live_test
from live_test import ETCPIPE, SOURCE, read, wait_listening
from test_model import write_model

TRAFFIC = os.path.join(SOURCE, "tests", "integration", "lab_traffic.py")
TAG = f"ef{os.getpid() % 100000}"
CLIENT, MIDDLE, SERVER, BRIDGE = (f"{TAG}{x}" for x in "cmsb")
# Interfaces: the client's and server's to the router (c0, s0) and to the bridge (c1, s1);
# the router's (mc, ms) and the bridge's ports (bc, bs).
C0, MC, MS, S0 = (f"{TAG}{x}" for x in ("c0", "mc", "ms", "s0"))
C1, BC, BS, S1 = (f"{TAG}{x}" for x in ("c1", "bc", "bs", "s1"))
ROUTED_SERVER, BRIDGED_SERVER = "10.71.2.1", "10.72.0.2"
PORT = 5000
BULK_BYTES = 50_000_000
MODEL = tempfile.mkdtemp(prefix="etcpipe-enforce-model-")
PCAP = os.path.join(MODEL, "bulk-and-chat.pcap")
SERVERS = []


def sh(*args, check=True):
    return live_test.sh(*args, check=check)


def in_ns(ns, *args):
    return ["ip", "netns", "exec", ns, *args]


def pair(a, ns_a, b, ns_b):
    sh("ip", "link", "add", a, "type", "veth", "peer", "name", b)
    for dev, ns in ((a, ns_a), (b, ns_b)):
        sh("ip", "link", "set", dev, "netns", ns)
        sh(*in_ns(ns, "sysctl", "-qw", f"net.ipv6.conf.{dev}.disable_ipv6=1"))
        sh(*in_ns(ns, "ip", "link", "set", dev, "up"))
        # Frames as a wire carries them: no segmentation offloads (a record counts frames).
        sh(*in_ns(ns, "ethtool", "-K", dev, "tso", "off", "gso", "off", "gro", "off"), check=False)


def remove_labs():
    for ns in (CLIENT, MIDDLE, SERVER, BRIDGE):
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    while SERVERS:
        p = SERVERS.pop()
        p.kill()
        p.wait()


def make_labs():
    remove_labs()
    for ns in (CLIENT, MIDDLE, SERVER, BRIDGE):
        sh("ip", "netns", "add", ns)
        sh(*in_ns(ns, "ip", "link", "set", "lo", "up"))
    pair(C0, CLIENT, MC, MIDDLE)
    pair(MS, MIDDLE, S0, SERVER)
    pair(C1, CLIENT, BC, BRIDGE)
    pair(BS, BRIDGE, S1, SERVER)
    for ns, dev, addr in ((CLIENT, C0, "10.71.1.1/24"), (MIDDLE, MC, "10.71.1.2/24"),
                          (MIDDLE, MS, "10.71.2.2/24"), (SERVER, S0, "10.71.2.1/24"),
                          (CLIENT, C1, "10.72.0.1/24"), (SERVER, S1, "10.72.0.2/24")):
        sh(*in_ns(ns, "ip", "addr", "add", addr, "dev", dev))
    sh(*in_ns(CLIENT, "ip", "route", "add", "10.71.2.0/24", "via", "10.71.1.2"))
    sh(*in_ns(SERVER, "ip", "route", "add", "10.71.1.0/24", "via", "10.71.2.2"))
    sh(*in_ns(MIDDLE, "sysctl", "-qw", "net.ipv4.ip_forward=1"))
    start_server()
    write_model(MODEL, SOURCE)
    record_pcap()


def start_server():
    SERVERS.append(subprocess.Popen(in_ns(SERVER, sys.executable, TRAFFIC, "serve", str(PORT),
                                          str(BULK_BYTES)), stderr=subprocess.DEVNULL))
    wait_for_server(ROUTED_SERVER)


def wait_for_server(address):
    deadline = time.monotonic() + 10
    while chat(address, 1)["echoed"] != 1:
        if time.monotonic() > deadline:
            raise RuntimeError("the lab's server does not answer")
        time.sleep(0.2)


def bulk(server, idle=1.5):
    out = subprocess.run(in_ns(CLIENT, sys.executable, TRAFFIC, "bulk", server, str(PORT),
                               str(idle)), capture_output=True, text=True, timeout=120)
    return json.loads(out.stdout)


def chat(server, n, gap=0.02):
    out = subprocess.run(in_ns(CLIENT, sys.executable, TRAFFIC, "chat", server, str(PORT),
                               str(n), str(gap)), capture_output=True, text=True, timeout=120)
    return json.loads(out.stdout) if out.stdout else {"echoed": 0}


def record_pcap():
    """A bulk transfer and a chat through the router, as the client's interface saw them."""
    err = os.path.join(MODEL, "tcpdump.err")
    with open(err, "w") as e:
        dump = subprocess.Popen(in_ns(CLIENT, "tcpdump", "-i", C0, "-Z", "root", "-B", "65536",
                                      "--immediate-mode", "-w", PCAP, "tcp"),
                                stdout=subprocess.DEVNULL, stderr=e)
        wait_listening(dump, err)
        # 10 MB at most: the replay below stays short.
        small = subprocess.Popen(in_ns(SERVER, sys.executable, TRAFFIC, "serve", str(PORT + 1),
                                       "10000000"), stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        out = subprocess.run(in_ns(CLIENT, sys.executable, TRAFFIC, "bulk", ROUTED_SERVER,
                                   str(PORT + 1), "2"), capture_output=True, text=True)
        assert json.loads(out.stdout)["complete"], out.stdout
        chat(ROUTED_SERVER, 20)
        time.sleep(0.5)
        small.kill()
        small.wait()
        dump.send_signal(signal.SIGINT)
        dump.wait(timeout=30)


class Run:
    """etcpipe classify ARGS in a namespace, with the test model, records and statistics."""

    def __init__(self, tmp, ns, *args):
        self.out_path = os.path.join(tmp, "out.jsonl")
        self.stats_path = os.path.join(tmp, "stats.json")
        self.err_path = os.path.join(tmp, "stderr")
        self.err = open(self.err_path, "w")
        self.proc = subprocess.Popen(
            in_ns(ns, ETCPIPE, "classify", "--model", MODEL, "-o", self.out_path,
                  "--stats-json", self.stats_path, "--duration", "120", *args),
            stdout=subprocess.DEVNULL, stderr=self.err)
        live_test.RUNNING.append(self)
        wait_listening(self.proc, self.err_path)

    def stop(self):
        time.sleep(0.3)
        self.proc.send_signal(signal.SIGINT)
        rc = self.proc.wait(timeout=60)
        self.err.close()
        live_test.RUNNING.remove(self)
        return rc

    def stderr(self):
        return read(self.err_path)

    def records(self):
        with open(self.out_path) as f:
            return [json.loads(line) for line in f]

    def stats(self):
        with open(self.stats_path) as f:
            return json.loads(f.read().splitlines()[-1])


def xdp_attached(ns, dev):
    return "xdp" in sh(*in_ns(ns, "ip", "link", "show", dev)).stdout


def percentile(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(p / 100 * (len(v) - 1) + 0.5))]


class Enforcement(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="etcpipe-enforce-")

    def tearDown(self):
        live_test.stop_captures()
        self.tmp.cleanup()

    def dir(self, name):
        path = os.path.join(self.tmp.name, name)
        os.makedirs(path, exist_ok=True)
        return path

    def test_drop_stops_bulk_transfers_soon_after_their_verdict_and_spares_other_labels(self):
        run = Run(self.dir("drop"), MIDDLE, "-i", MC, "-i", MS, "--enforce", "drop:bulk")
        transfers = [bulk(ROUTED_SERVER) for _ in range(8)]
        talk = chat(ROUTED_SERVER, 20)
        # The links quiet before the capture ends (no retransmission on its way): XDP counts
        # until etcpipe exits, user space until its input ends.
        for ns, dev in ((CLIENT, C0), (SERVER, S0)):
            sh(*in_ns(ns, "ip", "link", "set", dev, "down"))
        try:
            time.sleep(0.5)
            self.assertEqual(run.stop(), 0, run.stderr())
        finally:
            for ns, dev in ((CLIENT, C0), (SERVER, S0)):
                sh(*in_ns(ns, "ip", "link", "set", dev, "up"))
            sh(*in_ns(CLIENT, "ip", "route", "replace", "10.71.2.0/24", "via", "10.71.1.2"))
            sh(*in_ns(SERVER, "ip", "route", "replace", "10.71.1.0/24", "via", "10.71.2.2"))
            wait_for_server(ROUTED_SERVER)
        for t in transfers:
            self.assertFalse(t["complete"], t)
            self.assertLess(t["bytes"], BULK_BYTES / 2)
        self.assertEqual(talk["echoed"], 20, "a flow of another label is left alone")
        records = [r for r in run.records() if r["proto"] == "TCP"]
        dropped = [r for r in records if r["label"] == "bulk"]
        self.assertEqual(len(dropped), 8, records)
        self.assertTrue(all(r["action"] == "drop" for r in dropped), dropped)
        chats = [r for r in records if r["label"] == "chat"]
        self.assertEqual([r["action"] for r in chats], [None], records)
        stats = run.stats()
        enforcement = stats["classification"]["enforcement"]
        self.assertEqual(enforcement["flows_drop"], 8)
        self.assertEqual(enforcement["entries_evicted"], 0)
        xdp = enforcement["xdp"]
        self.assertGreater(xdp["dropped"], 0)
        # Exact on both sides: each frame that arrived was read by etcpipe or dropped by XDP,
        # and the records hold every frame of their flows, the dropped ones included.
        self.assertEqual(stats["packets_read"] + stats["kernel_drops"] + xdp["dropped"],
                         xdp["packets"], stats)
        self.assertEqual(sum(r["pkts_fwd"] + r["pkts_rev"] for r in run.records()),
                         stats["packets_in_flows"] + xdp["dropped"], "records hold XDP's drops")
        # From the verdict to the first dropped packet, per flow (the summary's percentiles):
        # well under a second even on a loaded machine.
        p50, p99 = enforcement["latency_us_p50"], enforcement["latency_us_p99"]
        print(f"\nverdict to first drop over 8 flows: p50 {p50:.0f} us, p99 {p99:.0f} us; "
              f"bytes through before the drop: {[t['bytes'] for t in transfers]}",
              file=sys.stderr)
        self.assertGreater(p50, 0)
        self.assertLess(p99, 1e6)

    def test_a_bypassed_flow_longer_than_its_idle_timeout_stays_one_exact_record(self):
        run = Run(self.dir("long"), MIDDLE, "-i", MC, "-i", MS, "--enforce", "bypass:*",
                  "--tcp-idle", "2")
        talk = chat(ROUTED_SERVER, 30, 0.2)  # 6 s, a message every 0.2 s
        self.assertEqual(run.stop(), 0, run.stderr())
        self.assertEqual(talk["echoed"], 30)
        records = [r for r in run.records() if r["proto"] == "TCP"]
        self.assertEqual(len(records), 1, records)  # kept alive in etcpipe: not split
        r = records[0]
        self.assertEqual(r["action"], "bypass")
        # 30 messages and their echoes, each acknowledged or carrying the other's ack.
        self.assertGreaterEqual(r["pkts_fwd"], 31)
        self.assertGreaterEqual(r["pkts_rev"], 31)
        xdp = run.stats()["classification"]["enforcement"]["xdp"]
        self.assertGreater(xdp["bypassed"], 40)
        self.assertEqual(r["pkts_fwd"] + r["pkts_rev"],
                         run.stats()["packets_in_flows"] + xdp["bypassed"])

    def test_on_a_host_its_own_frames_are_read_and_a_drop_stops_what_it_receives(self):
        run = Run(self.dir("host"), SERVER, "-i", S0, "--enforce", "drop:bulk")
        transfer = bulk(ROUTED_SERVER)
        talk = chat(ROUTED_SERVER, 10)
        self.assertEqual(run.stop(), 0, run.stderr())
        self.assertFalse(transfer["complete"], transfer)
        self.assertEqual(talk["echoed"], 10)
        records = [r for r in run.records() if r["proto"] == "TCP" and r["dst_port"] == PORT]
        self.assertIn("drop", [r["action"] for r in records if r["label"] == "bulk"])
        # The server's own frames (outgoing, unseen by XDP) are read: both ways are there.
        chats = [r for r in records if r["label"] == "chat" and r["pkts_fwd"] >= 10]
        self.assertEqual(len(chats), 1, records)
        self.assertGreaterEqual(chats[0]["pkts_rev"], 10)

    def replay_through(self, name, *args):
        """The recorded capture replayed into the router's client port (the router not
        forwarding: only etcpipe sees it), captured there."""
        run = Run(self.dir(name), MIDDLE, "-i", MC, *args, "tcp")
        sh(*in_ns(CLIENT, "tcpreplay", "-i", C0, "--pps", "20000", PCAP))
        self.assertEqual(run.stop(), 0, run.stderr())
        return run

    def test_bypass_gives_the_records_of_a_run_without_it_and_keeps_packets_from_user_space(self):
        sh(*in_ns(MIDDLE, "sysctl", "-qw", "net.ipv4.ip_forward=0"))
        try:
            plain = self.replay_through("plain")
            for method in (["--capture", "afpacket"], ["--capture", "afxdp"]):
                with self.subTest(method=method[1]):
                    run = self.replay_through(method[1], *method, "--enforce", "bypass:*")
                    self.assertEqual(live_test.comparable(run.records()),
                                     live_test.comparable(plain.records()))
                    self.assertTrue(all(r["action"] == "bypass" for r in run.records()))
                    big = max(run.records(), key=lambda r: r["pkts_fwd"] + r["pkts_rev"])
                    packets = big["pkts_fwd"] + big["pkts_rev"]
                    stats = run.stats()
                    xdp = stats["classification"]["enforcement"]["xdp"]
                    # Counted on both sides: what XDP kept from etcpipe, and what etcpipe read.
                    print(f"\n{method[1]}: {xdp['bypassed']} of the bulk flow's {packets} "
                          f"packets bypassed; etcpipe read {stats['packets_read']} packets",
                          file=sys.stderr)
                    self.assertGreaterEqual(xdp["bypassed"], 0.9 * packets)
                    # (Without --enforce the expression runs in the kernel, its rejects
                    # uncounted; with it, in etcpipe.)
                    user = stats["packets_read"] - stats["outcomes"]["filtered_bpf"]
                    self.assertEqual(user + xdp["bypassed"], plain.stats()["packets_read"])
        finally:
            sh(*in_ns(MIDDLE, "sysctl", "-qw", "net.ipv4.ip_forward=1"))

    def test_inline_forwards_both_ways_enforces_and_leaves_no_program_when_killed(self):
        self.assertEqual(chat(BRIDGED_SERVER, 1, 0)["echoed"], 0, "no bridge without etcpipe")
        # veth's native redirect needs XDP on the peer too: generic mode.
        inline = ["-i", BC, "--inline-to", BS, "--xdp-mode", "generic"]
        run = Run(self.dir("inline"), BRIDGE, *inline, "--enforce", "drop:bulk")
        self.assertEqual(chat(BRIDGED_SERVER, 20)["echoed"], 20)
        transfer = bulk(BRIDGED_SERVER)
        self.assertFalse(transfer["complete"], transfer)
        # Its user space stopped, the bridge still forwards.
        os.kill(run.proc.pid, signal.SIGSTOP)
        try:
            self.assertEqual(chat(BRIDGED_SERVER, 5)["echoed"], 5)
        finally:
            os.kill(run.proc.pid, signal.SIGCONT)
        self.assertEqual(run.stop(), 0, run.stderr())
        records = [r for r in run.records() if r["proto"] == "TCP"]
        self.assertEqual(sorted((r["label"], r["action"]) for r in records),
                         [("bulk", "drop"), ("chat", None), ("chat", None)], records)
        xdp = run.stats()["classification"]["enforcement"]["xdp"]
        self.assertGreater(xdp["forwarded"], 0)
        self.assertGreater(xdp["dropped"], 0)
        self.assertFalse(xdp_attached(BRIDGE, BC))
        # User space stopped, with a copy ring of 1 MiB: fail-open forwards what it cannot
        # copy (a bulk transfer completes), fail-closed drops it (the transfer stalls).
        for extra, completes in (([], True), (["--fail-closed"], False)):
            with self.subTest(extra=extra):
                run = Run(self.dir("stopped" + "".join(extra)), BRIDGE, *inline, "--ring-mb", "1",
                          *extra)
                os.kill(run.proc.pid, signal.SIGSTOP)
                try:
                    transfer = bulk(BRIDGED_SERVER)
                finally:
                    os.kill(run.proc.pid, signal.SIGCONT)
                self.assertEqual(run.stop(), 0, run.stderr())
                self.assertEqual(transfer["complete"], completes, transfer)
                self.assertGreater(run.stats()["kernel_drops"], 0, "copies the ring had no room for")
        # Killed: the kernel takes the program away with the process; the ports are unjoined.
        run = Run(self.dir("killed"), BRIDGE, *inline)
        self.assertTrue(xdp_attached(BRIDGE, BC) and xdp_attached(BRIDGE, BS))
        os.kill(run.proc.pid, signal.SIGKILL)
        run.proc.wait(timeout=30)
        run.err.close()
        live_test.RUNNING.remove(run)
        deadline = time.monotonic() + 10
        while xdp_attached(BRIDGE, BC) or xdp_attached(BRIDGE, BS):
            self.assertLess(time.monotonic(), deadline, "an XDP program outlived etcpipe")
            time.sleep(0.1)

    def test_dry_run_says_what_it_would_do_and_bad_policies_are_one_clear_line(self):
        def classify(*args):
            return subprocess.run([ETCPIPE, "classify", "--model", MODEL, *args],
                                  capture_output=True, text=True, timeout=120)
        out = classify("-r", PCAP, "--enforce-dry-run", "--enforce", "drop:bulk")
        self.assertEqual(out.returncode, 0, out.stderr)
        records = [json.loads(line) for line in out.stdout.splitlines()]
        self.assertEqual(sorted(r["action"] or "" for r in records), ["", "would-drop"])
        self.assertIn("dry run: would drop TCP 10.71.1.1:", out.stderr)
        self.assertIn("enforcement (dry run): 1 flows to drop", out.stderr)
        for args, message in (
                (["--enforce", "drop:bulk"], "--enforce acts on live traffic (-i)"),
                (["--enforce", "drop:BitTorrent", "--enforce-dry-run"],
                 "'BitTorrent' is not a class of the model (its classes: bulk, chat)"),
                (["--enforce", "zap:bulk", "--enforce-dry-run"],
                 "the action is pass, drop or bypass"),
                (["--enforce-dry-run"], "--enforce-dry-run: give the rules")):
            with self.subTest(args=args):
                out = classify("-r", PCAP, *args)
                self.assertEqual(out.returncode, 2, out.stderr)
                self.assertIn(message, out.stderr)
                self.assertEqual(len(out.stderr.splitlines()), 1, out.stderr)


def main():
    return live_test.main_in_lab("enforce_test", ("tcpreplay", "tcpdump", "ip", "ethtool"),
                                 setup=make_labs, cleanup=remove_labs)


if __name__ == "__main__":
    sys.exit(main())
