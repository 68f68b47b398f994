#!/usr/bin/env python3
"""Live capture (-i) against the same packets read from a file (-r), in two network
namespaces joined by a veth pair that the test creates and removes: tcpreplay sends a
capture from one end, etcpipe captures on the other.

Usage: live_test.py ETCPIPE_BINARY SOURCE_DIR SHARED_DATA_DIR [TEST...]
Skipped (exit 77) where namespaces cannot be made (not root) or tcpreplay is missing."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

ETCPIPE = sys.argv[1] if len(sys.argv) > 1 else "etcpipe"
SOURCE = sys.argv[2] if len(sys.argv) > 2 else "."
SHARED = sys.argv[3] if len(sys.argv) > 3 else os.path.join(SOURCE, "..", "shared", "data")
SKIP = 77
sys.path.insert(0, os.path.join(SOURCE, "scripts"))
import netns_lab  # noqa: E402
from netns_lab import cpu_seconds  # noqa: E402
# Timeouts off: records then depend on the packets only, not on when they arrive.
NO_TIMEOUTS = ["--tcp-idle", "0", "--udp-idle", "0", "--other-idle", "0", "--active-timeout",
               "0", "--tcp-close-timeout", "0"]
RATE = "10000"  # packets per second: far below what the veth pair carries without loss
TAG = f"etl{os.getpid() % 100000}"
SENDER, RECEIVER = f"{TAG}a", f"{TAG}b"  # namespace names, and their veth ends


def capture(name):
    """A shared capture (Ethernet, untruncated packets) or, without shared data, a sample."""
    shared = os.path.join(SHARED, "ndpi", "pcap", name)
    return shared if os.path.exists(shared) else os.path.join(SOURCE, "data", "samples",
                                                               "android.pcap")


MANY_FLOWS = capture("1kxun.pcap")  # 1,723 packets, 197 flows, frames up to 37 KB
SCAN = capture("synscan.pcap")      # 2,011 small packets
SMALL_FRAMES = capture("netflix.pcap")  # 1,793 packets, 61 flows, frames up to 1,514 bytes
AFPACKET = ["-i", RECEIVER]
# DPDK through its af_packet driver (one queue per worker, spread by the kernel's fanout;
# frames of up to 2 KB, its default), and through its pcap driver (one queue; it reports the
# kernel's drops, which the af_packet driver of DPDK 22.11 does not).
# AF_XDP: the XDP program in native mode on veth needs an MTU that fits a page, and spreads
# by the receive queue, which on veth is the sender's transmit queue (the flow hash).
AFXDP = ["--capture", "afxdp", "-i", RECEIVER]
DPDK = ["--capture", "dpdk", "-i", f"net_af_packet0,iface={RECEIVER}"]
DPDK_PCAP = ["--capture", "dpdk", "-i", f"net_pcap0,rx_iface={RECEIVER}"]


def in_build(method):
    """Whether this etcpipe has a capture method (DPDK and AF_XDP are optional)."""
    out = subprocess.run([ETCPIPE, "flows", "--help"], capture_output=True, text=True)
    text = " ".join(out.stdout.split())
    start = text.index(f"{method}:")  # the method's part of the --capture help
    return "(not in this build)" not in text[start:text.index(".", start)]


def sh(*args, check=True):
    return netns_lab.sh(*args, check=check, timeout=60)


def remove_lab():
    netns_lab.remove(SENDER, RECEIVER)


def make_lab(loopback=False):
    """The MTU lets every captured frame through; two queues: AF_XDP with two workers; with
    `loopback`, the receiving namespace's loopback up (servers for the capture to talk to)."""
    netns_lab.make(SENDER, RECEIVER, mtu=65535, loopback=[RECEIVER] if loopback else [])


class SmallMtu:
    """The lab's MTU at 1500 for a while (native XDP on veth needs it)."""

    def __enter__(self):
        self.set("1500")

    def __exit__(self, *exc):
        stop_captures()  # a capture left running keeps its XDP program, which holds the MTU
        self.set("65535")

    @staticmethod
    def set(mtu):
        for ns in (SENDER, RECEIVER):
            sh("ip", "netns", "exec", ns, "ip", "link", "set", ns, "mtu", mtu)


def replay(pcap, *extra):
    out = sh("ip", "netns", "exec", SENDER, "tcpreplay", "-i", SENDER, *extra, pcap)
    for line in out.stdout.splitlines():
        if "Successful packets:" in line:
            return int(line.split()[-1])
    raise AssertionError(out.stdout + out.stderr)


def read(path):
    with open(path) as f:
        return f.read()


def wait_listening(proc, err_path):
    """Until the program says it captures ("listening on", as tcpdump says it)."""
    deadline = time.monotonic() + 30
    while "listening on" not in read(err_path):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"{proc.args} did not start: " + read(err_path))
        time.sleep(0.05)


RUNNING = []  # captures started and not yet stopped


def stop_captures():
    """Kills what a failed test left running."""
    while RUNNING:
        cap = RUNNING.pop()
        if cap.proc.poll() is None:
            cap.proc.kill()
            cap.proc.wait()
        cap.err.close()


class Capture:
    """etcpipe CMD -i RECEIVER ... running in the receiving namespace (for at most 300 s,
    whatever happens to the test)."""

    def __init__(self, tmp, command, *args, source=AFPACKET, records=True):
        self.err_path = os.path.join(tmp, "stderr")
        self.stats_path = os.path.join(tmp, "stats.json")
        self.out_path = os.path.join(tmp, "out.jsonl")
        self.err = open(self.err_path, "w")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", RECEIVER, ETCPIPE, command, *source,
             *(["-o", self.out_path, "--stats-json", self.stats_path] if records else []),
             *([] if "--duration" in args else ["--duration", "300"]), *args],
            stdout=subprocess.DEVNULL, stderr=self.err)
        RUNNING.append(self)
        wait_listening(self.proc, self.err_path)

    def stderr(self):
        return read(self.err_path)


    def stop(self, sig=signal.SIGINT):
        time.sleep(0.3)  # the last packets' block is handed over after 10 ms
        self.proc.send_signal(sig)
        return self.finish()

    def finish(self, timeout=60):
        try:
            rc = self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.err.close()
            if self in RUNNING:
                RUNNING.remove(self)
        return rc

    def stats_lines(self):
        """The statistics lines written so far (one being written is left out)."""
        with open(self.stats_path) as f:
            return [json.loads(line) for line in f if line.endswith("\n") and line.strip()]

    def records(self):
        with open(self.out_path) as f:
            return [json.loads(line) for line in f]

    def pid(self):
        """etcpipe's own pid (ip netns exec runs it in place of itself)."""
        return self.proc.pid


class TcpDump:
    """tcpdump -w FILE on the receiving end (as root: Debian's drops to its own user)."""

    def __init__(self, tmp, path):
        self.err_path = os.path.join(tmp, "tcpdump.err")
        self.err = open(self.err_path, "w")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", RECEIVER, "tcpdump", "-i", RECEIVER, "-Z", "root", "-B", "65536",
             "--immediate-mode", "--time-stamp-precision", "nano", "-w", path], stdout=subprocess.DEVNULL,
            stderr=self.err)
        wait_listening(self.proc, self.err_path)

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=30)
        self.err.close()


def comparable(records, fields=("pkts_fwd", "pkts_rev", "bytes_fwd", "bytes_rev",
                                "tcp_flags_fwd", "tcp_flags_rev", "end_reason")):
    """Flow records without their times, as a sorted list (a 5-tuple may recur)."""
    key = ("src_ip", "src_port", "dst_ip", "dst_port", "proto", "vlan", "tunnel")
    return sorted(json.dumps([[r[k] for k in key], [r.get(f) for f in fields]]) for r in records)


def from_file(command, pcap, *args):
    out = subprocess.run([ETCPIPE, command, "-q", "-r", pcap, *args], capture_output=True,
                         text=True, timeout=300)
    if out.returncode != 0:
        raise AssertionError(out.stderr)
    return [json.loads(line) for line in out.stdout.splitlines()]


class Live(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        stop_captures()
        self.tmp.cleanup()

    def dir(self, name):
        path = os.path.join(self.tmp.name, name)
        os.makedirs(path, exist_ok=True)
        return path

    def check_records(self, pcap, source):
        want = comparable(from_file("flows", pcap, *NO_TIMEOUTS))
        for workers in ("1", "2"):
            with self.subTest(workers=workers):
                cap = Capture(self.dir("w" + workers), "flows", "--workers", workers,
                              *NO_TIMEOUTS, source=source)
                sent = replay(pcap, "--pps", RATE)
                self.assertEqual(cap.stop(), 0, cap.stderr())
                totals = cap.stats_lines()[-1]
                self.assertEqual(totals["packets_received"], sent)
                self.assertEqual(totals["kernel_drops"], 0)
                self.assertTrue(totals["accounting_balanced"])
                self.assertEqual(len(totals["workers"]), int(workers))
                if workers == "2":  # the flows were spread over both queues
                    self.assertTrue(all(w["packets"] > 0 for w in totals["workers"]), totals)
                self.assertEqual(comparable(cap.records()), want)

    def test_records_are_those_of_the_file_for_one_and_two_workers(self):
        self.check_records(MANY_FLOWS, AFPACKET)

    def test_dpdk_records_are_those_of_the_file_for_one_and_two_workers(self):
        if not in_build("dpdk"):
            self.skipTest("etcpipe built without DPDK")
        self.check_records(SMALL_FRAMES, DPDK)

    def test_afxdp_records_are_those_of_the_file_for_one_and_two_workers(self):
        if not in_build("afxdp"):
            self.skipTest("etcpipe built without AF_XDP")
        with SmallMtu():
            self.check_records(SMALL_FRAMES, AFXDP)
            # The program went away with etcpipe.
            link = sh("ip", "netns", "exec", RECEIVER, "ip", "link", "show", RECEIVER).stdout
            self.assertNotIn("xdp", link)

    def test_xdp_modes_and_a_sigkill_leaves_no_program_attached(self):
        if not in_build("afxdp"):
            self.skipTest("etcpipe built without AF_XDP")

        def attached():
            return "xdp" in sh("ip", "netns", "exec", RECEIVER, "ip", "link", "show",
                               RECEIVER).stdout

        # At MTU 65535 veth has no native XDP: asked for, it is refused in one line.
        out = sh("ip", "netns", "exec", RECEIVER, ETCPIPE, "flows", *AFXDP, "--xdp-mode",
                 "native", "--duration", "1", check=False)
        self.assertEqual(out.returncode, 2, out.stderr)
        self.assertIn(f"{RECEIVER}: the driver refused native XDP", out.stderr)
        self.assertEqual(len(out.stderr.splitlines()), 1, out.stderr)
        self.assertFalse(attached())
        out = sh(ETCPIPE, "flows", "-i", RECEIVER, "--xdp-mode", "generic", "--duration", "1",
                 check=False)  # afpacket: the option is afxdp's
        self.assertEqual(out.returncode, 2)
        self.assertIn("--xdp-mode generic: only where XDP runs (--capture afxdp, --inline-to, "
                      "--enforce, --in-kernel)", out.stderr)
        # Generic mode as asked (native would be refused too at 1500: it is not tried): the
        # records of the file, then SIGKILL, and the kernel detaches the program.
        with SmallMtu():
            want = comparable(from_file("flows", SMALL_FRAMES, *NO_TIMEOUTS))
            cap = Capture(self.dir("generic"), "flows", "--xdp-mode", "generic", *NO_TIMEOUTS,
                          source=AFXDP)
            self.assertIn("generic mode, as asked", cap.stderr())
            self.assertTrue(attached())
            sent = replay(SMALL_FRAMES, "--pps", RATE)
            self.assertEqual(cap.stop(), 0, cap.stderr())
            self.assertEqual(cap.stats_lines()[-1]["packets_received"], sent)
            self.assertEqual(comparable(cap.records()), want)
            cap = Capture(self.dir("killed"), "flows", *NO_TIMEOUTS, source=AFXDP)
            self.assertTrue(attached())
            cap.stop(signal.SIGKILL)
            deadline = time.monotonic() + 10  # the link goes with the process's last file
            while attached() and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertFalse(attached(), "an XDP program is left attached after SIGKILL")

    def test_gen_sends_what_it_writes_to_a_file(self):
        gen = ["gen", "--flows", "300", "--new-flows-per-sec", "2000", "--packets", "20000",
               "--packet-size", "64,1500", "--seed", "7", "--rate", "50000"]
        written = os.path.join(self.tmp.name, "gen.pcap")
        sh(ETCPIPE, *gen, "-w", written)
        want = comparable(from_file("flows", written, *NO_TIMEOUTS))
        cap = Capture(self.tmp.name, "flows", "--workers", "2", *NO_TIMEOUTS)
        out = sh("ip", "netns", "exec", SENDER, ETCPIPE, *gen, "--send", SENDER)
        self.assertIn("20000 packets", out.stderr)
        self.assertEqual(cap.stop(), 0, cap.stderr())
        self.assertEqual(cap.stats_lines()[-1]["packets_received"], 20000)
        self.assertEqual(comparable(cap.records()), want)

    def test_the_filter_runs_in_the_kernel_with_the_same_flows_as_from_the_file(self):
        want = comparable(from_file("flows", MANY_FLOWS, *NO_TIMEOUTS, "udp"))
        self.assertTrue(want)
        cap = Capture(self.tmp.name, "flows", "--workers", "2", *NO_TIMEOUTS, "udp")
        replay(MANY_FLOWS, "--pps", RATE)
        self.assertEqual(cap.stop(), 0, cap.stderr())
        self.assertEqual(comparable(cap.records()), want)
        totals = cap.stats_lines()[-1]
        self.assertEqual(totals["outcomes"]["filtered_bpf"], 0)  # never left the kernel
        self.assertEqual(totals["packets_read"], sum(r["pkts_fwd"] + r["pkts_rev"]
                                                     for r in cap.records()))

    # Not through DPDK or AF_XDP: they give no receive timestamps here (DPDK 22.11's af_packet
    # driver, AF_XDP on kernel 6.1), so packets are stamped when read, and the model's
    # inter-arrival times differ from the kernel's stamps in the file.
    def check_classify(self, pcap, source):
        # The model reads packet times (inter-arrival times): the file to compare with is
        # the replay as tcpdump received it beside etcpipe, with the same kernel timestamps.
        args = [*NO_TIMEOUTS, "--verdict-timeout", "0"]
        for workers in ("1", "2"):
            with self.subTest(workers=workers):
                tmp = self.dir("w" + workers)
                received = os.path.join(tmp, "received.pcap")
                dump = TcpDump(tmp, received)
                cap = Capture(tmp, "classify", "--workers", workers, *args, source=source)
                replay(pcap, "--pps", RATE)
                self.assertEqual(cap.stop(), 0, cap.stderr())
                dump.stop()
                self.assertEqual(cap.stats_lines()[-1]["kernel_drops"], 0)
                self.assertIn("\n0 packets dropped by kernel", read(dump.err_path))
                want = {json.dumps(comparable([r])): r["label"]
                        for r in from_file("classify", received, *args)}
                got = {json.dumps(comparable([r])): r["label"] for r in cap.records()}
                self.assertEqual(len(got), len(want), read(dump.err_path))
                differ = sorted(k for k in got if got[k] != want.get(k, "(no such flow)"))
                self.assertFalse(differ, [(k, got[k], want.get(k)) for k in differ[:5]])
                self.assertTrue(any(label is not None for label in got.values()))

    def test_classify_gives_the_labels_of_the_file_of_the_same_packets(self):
        self.check_classify(MANY_FLOWS, AFPACKET)

    def check_overload(self, source):
        # The reader is stopped while 20,110 packets arrive: its ring holds a part, the
        # kernel drops and counts the rest.
        cap = Capture(self.tmp.name, "flows", "--workers", "1", source=source)
        os.kill(cap.pid(), signal.SIGSTOP)
        try:
            sent = replay(SCAN, "--pps", "20000", "--loop", "10")
        finally:
            os.kill(cap.pid(), signal.SIGCONT)
        with open(f"/proc/{cap.pid()}/status") as f:
            peak_kib = int(next(line for line in f if line.startswith("VmHWM")).split()[1])
        self.assertEqual(cap.stop(), 0, cap.stderr())
        totals = cap.stats_lines()[-1]
        self.assertGreater(totals["kernel_drops"], 0)
        self.assertEqual(totals["packets_read"] + totals["kernel_drops"], sent)
        self.assertEqual(sum(w["kernel_drops"] for w in totals["workers"]),
                         totals["kernel_drops"])
        self.assertEqual(totals["packets_received"], sent)
        self.assertTrue(totals["accounting_balanced"])
        self.assertLess(peak_kib, 1 << 20)  # bounded: the ring and tables, under 1 GiB

    def test_overload_counts_kernel_drops_and_the_invariant_holds(self):
        self.check_overload(AFPACKET + ["--ring-mb", "1"])

    def test_dpdk_overload_counts_device_drops_and_the_invariant_holds(self):
        if not in_build("dpdk"):
            self.skipTest("etcpipe built without DPDK")
        self.check_overload(DPDK_PCAP)

    def test_afxdp_overload_counts_kernel_drops_and_the_invariant_holds(self):
        if not in_build("afxdp"):
            self.skipTest("etcpipe built without AF_XDP")
        with SmallMtu():
            self.check_overload(AFXDP + ["--ring-mb", "1"])

    def test_a_quiet_link_ends_flows_by_the_clock_without_burning_a_core(self):
        cap = Capture(self.tmp.name, "flows", "--workers", "2", "--tcp-idle", "1", "--udp-idle",
                      "1", "--other-idle", "1", "--tcp-close-timeout", "1", "--stats-interval",
                      "1")
        replay(MANY_FLOWS, "--pps", RATE)
        time.sleep(3)  # the longest timeout and a margin, with no packet at all
        before = cpu_seconds(cap.pid())
        time.sleep(3)
        idle_cpu = (cpu_seconds(cap.pid()) - before) / 3
        last = cap.stats_lines()[-1]  # written before the stop
        self.assertEqual(cap.stop(), 0, cap.stderr())
        self.assertGreater(last["flows_created"], 0)
        self.assertEqual(last["flows_active"], 0, last)
        self.assertEqual(last["flows_ended"]["end-of-input"], 0, last)
        self.assertLess(idle_cpu, 0.02)  # under 2% of a core on an idle link
        self.assertEqual(len(cap.records()), last["flows_created"])

    def test_extract_gives_the_rows_of_the_file(self):
        import numpy as np

        def rows(directory):
            with open(os.path.join(directory, "flows.csv")) as f:
                flows = [line.split(",")[1:6] + [line.split(",")[9]] for line in f][1:]
            sizes = np.load(os.path.join(directory, "sizes.npy"))
            return sorted(json.dumps([flow, sizes[i].tolist()]) for i, flow in enumerate(flows))

        args = ["--workers", "1", *NO_TIMEOUTS]
        from_file_dir = os.path.join(self.tmp.name, "file")
        sh(ETCPIPE, "extract", "-q", "-r", MANY_FLOWS, "-o", from_file_dir, *args)
        live_dir = os.path.join(self.tmp.name, "live")
        cap = Capture(self.dir("run"), "extract", "-o", live_dir, *args, records=False)
        replay(MANY_FLOWS, "--pps", RATE)
        self.assertEqual(cap.stop(), 0, cap.stderr())
        self.assertEqual(rows(live_dir), rows(from_file_dir))
        self.assertGreater(len(rows(live_dir)), 100)

    def test_count_and_duration_end_the_capture_by_themselves(self):
        cap = Capture(self.dir("count"), "flows", "--workers", "2", "-c", "500")
        replay(MANY_FLOWS, "--pps", RATE)
        self.assertEqual(cap.finish(timeout=30), 0, cap.stderr())
        totals = cap.stats_lines()[-1]
        self.assertEqual(totals["packets_read"], 500)
        self.assertTrue(totals["accounting_balanced"])
        self.assertEqual(sum(r["pkts_fwd"] + r["pkts_rev"] for r in cap.records()), 500)
        start = time.monotonic()
        cap = Capture(self.dir("duration"), "flows", "--duration", "1")
        self.assertEqual(cap.finish(timeout=30), 0, cap.stderr())
        self.assertLess(time.monotonic() - start, 10)
        self.assertEqual(cap.stats_lines()[-1]["packets_read"], 0)

    def test_a_missing_or_down_interface_is_one_clear_line_and_exit_2(self):
        def run_in_receiver(iface):
            return subprocess.run(["ip", "netns", "exec", RECEIVER, ETCPIPE, "flows", "-i", iface,
                                   "-o", "/dev/null"], capture_output=True, text=True,
                                  timeout=30)
        out = run_in_receiver("nosuch0")
        self.assertEqual(out.returncode, 2)
        self.assertEqual(out.stderr, "etcpipe: live capture on nosuch0: no such interface\n")
        sh("ip", "netns", "exec", RECEIVER, "ip", "link", "set", RECEIVER, "down")
        try:
            out = run_in_receiver(RECEIVER)
        finally:
            sh("ip", "netns", "exec", RECEIVER, "ip", "link", "set", RECEIVER, "up")
        self.assertEqual(out.returncode, 2)
        self.assertEqual(out.stderr, f"etcpipe: live capture on {RECEIVER}: the interface is "
                                     "down\n")


def main_in_lab(name, tools, loopback=False, setup=None, cleanup=None):
    """Runs the tests of the script run (this one, or one that imports it) in the lab: exit
    77 (skipped, saying why) when not root, without one of `tools` or when the namespaces
    cannot be made. `setup` runs after the lab is made; `cleanup` and the lab's removal run
    at the end, even at ctest's timeout (SIGTERM)."""
    if os.geteuid() != 0:
        print(f"{name}: skipped: needs root to create network namespaces")
        return SKIP
    missing = [tool for tool in tools if not shutil.which(tool)]
    if missing:
        print(f"{name}: skipped: {', '.join(missing)} missing ({', '.join(tools)} are needed)")
        return SKIP
    try:
        make_lab(loopback)
    except subprocess.CalledProcessError as e:
        print(f"{name}: skipped: cannot make network namespaces: {e.stderr.strip()}")
        remove_lab()
        return SKIP
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # ctest's timeout: clean up
    try:
        if setup:
            setup()
        prog = unittest.main(argv=sys.argv[:1] + sys.argv[4:], verbosity=2, exit=False)
        return 0 if prog.result.wasSuccessful() else 1
    finally:
        if cleanup:
            cleanup()
        remove_lab()


def main():
    return main_in_lab("live_test", ("tcpreplay", "tcpdump", "ip"))


if __name__ == "__main__":
    sys.exit(main())
