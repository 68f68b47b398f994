#!/usr/bin/env python3
"""Live capture side by side: etcpipe (afpacket, afxdp, dpdk; 1 and 2 workers), tcpdump,
softflowd, fprobe and pmacctd receiving the same generated traffic on one end of a veth
pair, at fixed offered rates. For each receiver: packets received and dropped where it
reports them, and its CPU time per packet while the traffic ran, user and system (system
time includes kernel work done in the receiver's threads: with AF_XDP on veth, the XDP
program and the copy into the UMEM run there when the receiver wakes the queue; with
AF_PACKET the kernel's copy into the ring runs on the sender's core).

Usage (root): bench_live.py ETCPIPE [--rates 100000,250000] [--seconds 4] [--flows 10000]
Installs the tools it needs (softflowd, fprobe, pmacct, tcpdump) from Debian's archive.
Prints a Markdown table."""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from netns_lab import cpu_seconds, sh
import netns_lab

A, B = "blvA", "blvB"


def receivers(etcpipe, tmp):
    stats = os.path.join(tmp, "stats.json")
    out = []
    for method, extra in (("afpacket", []), ("afxdp", []),
                          ("dpdk", ["-i", f"net_af_packet0,iface={B}"])):
        for w in ("1", "2"):
            iface = [] if extra else ["-i", B]
            out.append((f"etcpipe {method}, {w} worker{'s' if w == '2' else ''}",
                        [etcpipe, "flows", "--capture", method, *iface, *extra, "--workers", w,
                         "-o", "/dev/null", "--stats-json", stats], "etcpipe"))
    out += [
        ("tcpdump -w /dev/null", ["tcpdump", "-i", B, "-w", "/dev/null", "-Z", "root"], "tcpdump"),
        ("softflowd", ["softflowd", "-d", "-i", B, "-n", "127.0.0.1:2055"], None),
        ("fprobe", ["fprobe", "-l", "2", "-i", B, "127.0.0.1:2056"], None),
        ("pmacctd", ["pmacctd", "-i", B, "-P", "print", "-c",
                     "src_host,dst_host,src_port,dst_port,proto"], None),
    ]
    return out, stats


def run_one(name, cmd, kind, stats_path, rate, seconds, flows, etcpipe):
    err_path = stats_path + ".err"
    if os.path.exists(stats_path):
        os.remove(stats_path)
    with open(err_path, "w") as err:
        proc = subprocess.Popen(["ip", "netns", "exec", B, *cmd], stdout=subprocess.DEVNULL,
                                stderr=err)
    time.sleep(3)  # started, sockets bound, EAL up
    if proc.poll() is not None:
        return {"name": name, "error": open(err_path).read().strip().splitlines()[-1:]}
    packets = int(rate * seconds)
    before = cpu_seconds(proc.pid)
    sent = sh("ip", "netns", "exec", A, etcpipe, "gen", "--send", A, "--rate", str(rate),
              "--packets", str(packets), "--flows", str(flows), "--new-flows-per-sec", "1000",
              "--packet-size", "64")
    time.sleep(0.5)
    cpu = cpu_seconds(proc.pid) - before
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    achieved = float(re.search(r"in ([0-9.]+) s", sent.stderr).group(1))
    row = {"name": name, "offered_pps": rate, "sent": packets, "send_s": achieved,
           "cpu_ns_per_packet": cpu / packets * 1e9}
    text = open(err_path).read()
    if kind == "etcpipe":
        s = json.loads(open(stats_path).read().splitlines()[-1])
        row.update(received=s["packets_received"], dropped=s["kernel_drops"])
    elif kind == "tcpdump":
        got = re.search(r"(\d+) packets received by filter", text)
        lost = re.search(r"(\d+) packets dropped by kernel", text)
        if got and lost:
            row.update(received=int(got.group(1)), dropped=int(lost.group(1)))
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("etcpipe")
    ap.add_argument("--rates", default="100000,250000")
    ap.add_argument("--seconds", type=float, default=4)
    ap.add_argument("--flows", type=int, default=10000)
    args = ap.parse_args()
    etcpipe = os.path.abspath(args.etcpipe)
    missing = [p for p, tool in (("softflowd", "softflowd"), ("fprobe", "fprobe"),
                                 ("pmacct", "pmacctd"), ("tcpdump", "tcpdump"))
               if shutil.which(tool) is None]
    if missing:
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
                       check=True, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    netns_lab.make(A, B, mtu=1500, loopback=[B])  # B's loopback: the flow exporters' collector
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            configs, stats = receivers(etcpipe, tmp)
            for rate in (int(r) for r in args.rates.split(",")):
                for name, cmd, kind in configs:
                    row = run_one(name, cmd, kind, stats, rate, args.seconds, args.flows, etcpipe)
                    rows.append(row)
                    print(json.dumps(row), file=sys.stderr, flush=True)
    finally:
        netns_lab.remove(A, B)
    print("| receiver | offered pkt/s | sent in s | received | dropped | CPU ns/packet |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        if "error" in r:
            print(f"| {r['name']} | | | | | failed: {r['error']} |")
            continue
        print(f"| {r['name']} | {r['offered_pps']:,} | {r['send_s']:.2f} | "
              f"{r.get('received', '-')} | {r.get('dropped', '-')} | "
              f"{r['cpu_ns_per_packet']:.0f} |")


if __name__ == "__main__":
    sys.exit(main())
