#!/usr/bin/env python3
"""Automatic balancing against a sweep of manual settings (docs/PERFORMANCE.md).

    python3 scripts/bench_inference.py MODEL_DIR [--packets P] [--flows F]

Runs `etcpipe bench --model MODEL_DIR` on generated traffic with a high flow birth rate
(one new flow per 10 packets), first with the automatic setting, then with every
--batch B --infer-threads T of the sweep, and prints a Markdown table of classified flows
per second and the ratio of the automatic setting to the best manual one.
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def bench(etcpipe, model, args, *extra):
    cmd = [etcpipe, "bench", "--model", model, "--flows", str(args.flows), "--new-flows-per-sec",
           "1000000", "--packet-size", "600", "--packets", str(args.packets), "--json", *extra]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--packets", type=int, default=1000000)
    ap.add_argument("--flows", type=int, default=10000)
    ap.add_argument("--batches", default="1,2,4,8,16,32,64,128,256")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--etcpipe", default=os.path.join(ROOT, "build", "src", "etcpipe"))
    args = ap.parse_args()
    auto = bench(args.etcpipe, args.model, args)
    rows = []
    for t in args.threads.split(","):
        for b in args.batches.split(","):
            r = bench(args.etcpipe, args.model, args, "--batch", b, "--infer-threads", t)
            rows.append((int(b), int(t), r["classified_flows_per_sec"]))
            print(f"batch {b} threads {t}: {r['classified_flows_per_sec']:.0f} flows/s", file=sys.stderr)
    best = max(rows, key=lambda r: r[2])
    print(f"model {auto['model']}: automatic setting batch {auto['batch']}, "
          f"{auto['infer_threads_peak']} thread(s): {auto['classified_flows_per_sec']:.0f} flows/s "
          f"(verdict latency p50 {auto['verdict_latency_ms_p50']:.2f} ms, "
          f"p99 {auto['verdict_latency_ms_p99']:.2f} ms)")
    print(f"best manual: batch {best[0]}, {best[1]} thread(s): {best[2]:.0f} flows/s; "
          f"automatic / best = {auto['classified_flows_per_sec'] / best[2]:.2f}")
    print()
    threads = sorted({r[1] for r in rows})
    print("| batch | " + " | ".join(f"{t} thread(s)" for t in threads) + " |")
    print("| --- |" + " --- |" * len(threads))
    for b in sorted({r[0] for r in rows}):
        cells = [next(f"{r[2]:.0f}" for r in rows if r[0] == b and r[1] == t) for t in threads]
        print(f"| {b} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
