#!/usr/bin/env python3
"""etcpipe's XDP program per action, side by side with an XDP program that only returns
XDP_PASS, on the receiving end of a veth pair (native XDP) fed by `etcpipe gen --send` at a
fixed offered rate: 64-byte UDP packets of a few flows, which a test model classifies after
4 packets. For each: packets the program ran on per second, its own time per packet (the
kernel's BPF statistics, kernel.bpf_stats_enabled), etcpipe's CPU time per packet (user and
system, its threads), and for drop and bypass the time from each verdict to its flow's first
packet acted on (p50/p99 over the flows).

  pass      classify --enforce pass:*  (afpacket; no entry in the verdict map: to the stack)
  drop      classify --enforce drop:*  (afpacket)
  bypass    classify --enforce bypass:* (afpacket; the socket filter hides what XDP passed)
  redirect  classify --capture afxdp   (every frame to the AF_XDP socket)
  in-kernel classify --in-kernel --model models/kernel (afpacket; every flow classified in
            XDP at its 5th packet by the integer forest, 32 trees)

Usage (root): bench_xdp.py ETCPIPE [--rate 500000] [--seconds 4] [--flows 64]
                             [--new-flows-per-sec 1]
Prints a Markdown table."""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
from netns_lab import cpu_seconds, sh  # noqa: E402
import netns_lab  # noqa: E402
from test_model import write_model  # noqa: E402

A, B = "bxdA", "bxdB"
PASS_ONLY = """#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("xdp") int pass_only(struct xdp_md *ctx) { return XDP_PASS; }
char LICENSE[] SEC("license") = "GPL";
"""


def xdp_prog_id():
    link = json.loads(sh("ip", "-n", B, "-j", "-d", "link", "show", "dev", B).stdout)[0]
    return link["xdp"]["prog"]["id"]


def prog_stats(pid):
    j = json.loads(sh("bpftool", "prog", "show", "id", str(pid), "-j").stdout)
    return j.get("run_time_ns", 0), j.get("run_cnt", 0)


def send(etcpipe, rate, seconds, flows, new_flows):
    packets = int(rate * seconds)
    out = sh("ip", "netns", "exec", A, etcpipe, "gen", "--send", A, "--rate", str(rate),
             "--packets", str(packets), "--flows", str(flows), "--new-flows-per-sec",
             str(new_flows),
             "--tcp-share", "0", "--packet-size", "64")
    return packets, float(re.search(r"in ([0-9.]+) s", out.stderr).group(1))


def measure(name, etcpipe, args, rate, seconds, flows, new_flows):
    """Runs etcpipe (or, args None, the pass-only program) on B while the traffic runs."""
    proc = None
    with tempfile.TemporaryDirectory() as tmp:
        stats_path = os.path.join(tmp, "stats.json")
        if args is None:
            obj = os.path.join(tmp, "pass.o")
            with open(os.path.join(tmp, "pass.c"), "w") as f:
                f.write(PASS_ONLY)
            sh("clang", "-target", "bpf", "-O2", "-I/usr/include/x86_64-linux-gnu", "-c",
               os.path.join(tmp, "pass.c"), "-o", obj)
            sh("ip", "-n", B, "link", "set", "dev", B, "xdpdrv", "obj", obj, "sec", "xdp")
        else:
            err = open(os.path.join(tmp, "err"), "w")
            proc = subprocess.Popen(["ip", "netns", "exec", B, etcpipe, "classify", *args,
                                     "-o", "/dev/null", "--stats-json", stats_path],
                                    stdout=subprocess.DEVNULL, stderr=err)
            time.sleep(3)
            if proc.poll() is not None:
                return {"name": name, "error": open(err.name).read().strip()}
        try:
            pid = xdp_prog_id()
            t0, n0 = prog_stats(pid)
            cpu0 = cpu_seconds(proc.pid) if proc else 0
            packets, took = send(etcpipe, rate, seconds, flows, new_flows)
            time.sleep(0.3)
            t1, n1 = prog_stats(pid)
            cpu = (cpu_seconds(proc.pid) - cpu0) if proc else 0
        finally:
            if proc:
                proc.send_signal(signal.SIGINT)
                proc.wait(timeout=60)
            else:
                sh("ip", "-n", B, "link", "set", "dev", B, "xdpdrv", "off")
        row = {"name": name, "offered": packets, "send_s": took, "runs": n1 - n0,
               "pps": (n1 - n0) / took, "prog_ns": (t1 - t0) / max(1, n1 - n0),
               "etcpipe_cpu_ns": cpu / packets * 1e9 if proc else None}
        if proc:
            e = json.loads(open(stats_path).read().splitlines()[-1])["classification"]
            e = e.get("enforcement") or {}
            row["latency"] = (e.get("latency_us_p50"), e.get("latency_us_p99"))
            row["acted"] = {k: e.get("xdp", {}).get(k) for k in ("dropped", "bypassed", "to_user")}
            k = json.loads(open(stats_path).read().splitlines()[-1])["classification"]["in_kernel"]
            if k:
                row["in_kernel"] = {key: k[key] for key in ("xdp_decided", "verified_instructions")}
        return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("etcpipe")
    ap.add_argument("--rate", type=int, default=500000)
    ap.add_argument("--seconds", type=float, default=4)
    ap.add_argument("--flows", type=int, default=64)
    ap.add_argument("--new-flows-per-sec", type=int, default=1)
    args = ap.parse_args()
    etcpipe = os.path.abspath(args.etcpipe)
    sh("sysctl", "-qw", "kernel.bpf_stats_enabled=1")
    netns_lab.make(A, B, mtu=1500, queues=1)
    rows = []
    try:
        with tempfile.TemporaryDirectory() as model:
            write_model(model, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
            base = ["--model", model, "-i", B, "--duration", "600"]
            kernel_model = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                        "models", "kernel")
            configs = [("XDP_PASS only (reference)", None),
                       ("etcpipe pass (no entry)", base + ["--enforce", "pass:*"]),
                       ("etcpipe drop", base + ["--enforce", "drop:*"]),
                       ("etcpipe bypass", base + ["--enforce", "bypass:*"]),
                       ("etcpipe redirect (afxdp)", base + ["--capture", "afxdp"]),
                       ("etcpipe in-kernel classifier", ["--model", kernel_model, "-i", B,
                                                         "--duration", "600", "--in-kernel"])]
            for name, cmd in configs:
                row = measure(name, etcpipe, cmd, args.rate, args.seconds, args.flows,
                              args.new_flows_per_sec)
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
    finally:
        netns_lab.remove(A, B)
        sh("sysctl", "-qw", "kernel.bpf_stats_enabled=0")
    print(f"| program, action | sent pkt/s | XDP runs/s | XDP ns/packet | etcpipe CPU "
          f"ns/packet | verdict to action us p50 / p99 |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        if "error" in r:
            print(f"| {r['name']} | | | | | failed: {r['error']} |")
            continue
        cpu = f"{r['etcpipe_cpu_ns']:.0f}" if r["etcpipe_cpu_ns"] is not None else "-"
        lat = r.get("latency", (None, None))
        lat = f"{lat[0]:.0f} / {lat[1]:.0f}" if lat[0] else "-"
        print(f"| {r['name']} | {r['offered'] / r['send_s']:,.0f} | {r['pps']:,.0f} | "
              f"{r['prog_ns']:.0f} | {cpu} | {lat} |")


if __name__ == "__main__":
    sys.exit(main())
