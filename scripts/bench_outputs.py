#!/usr/bin/env python3
"""What the record outputs and the web view cost, on one generated capture, in one run:
`etcpipe flows -r CAPTURE` to JSON Lines alone, with --web and a client polling
/api/status ten times a second (the page polls once), and to SQLite and MariaDB/MySQL
(with --mysql URI). Runs are interleaved, REPEAT of each; medians of wall and CPU time
(user + system, all threads), and the ratio against JSON Lines alone of the same run.

Usage: bench_outputs.py ETCPIPE [--mysql mysql://USER:PASSWORD@HOST/DB] [--repeat 7]
                        [--flows 100000] [--packets 2000000]"""
import argparse
import os
import resource
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request


def run_once(cmd, poll_url=None):
    """Wall and CPU seconds of one run; with poll_url, a thread polls it at 10 Hz meanwhile."""
    polls = [0]
    done = threading.Event()

    def poller():
        while not done.is_set():
            try:
                urllib.request.urlopen(poll_url, timeout=1).read()
                polls[0] += 1
            except OSError:
                pass  # not listening yet, or already gone
            done.wait(0.1)

    thread = threading.Thread(target=poller) if poll_url else None
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if thread:
        thread.start()
    err = proc.communicate()[1]
    wall = time.monotonic() - start
    done.set()
    if thread:
        thread.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)}: exit {proc.returncode}: {err}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, polls[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("etcpipe")
    ap.add_argument("--mysql")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--flows", type=int, default=100000)
    ap.add_argument("--packets", type=int, default=2000000)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="etcpipe-bench-outputs-")
    capture = os.path.join(tmp, "t.pcap")
    subprocess.run([a.etcpipe, "gen", "--flows", str(a.flows), "--new-flows-per-sec", "10000",
                    "--packet-size", "64", "--packets", str(a.packets), "-w", capture],
                   check=True, capture_output=True)
    base = [a.etcpipe, "flows", "-r", capture, "-q", "-o", os.path.join(tmp, "f.jsonl")]
    modes = {
        "jsonl": (base, None),
        "jsonl + --web, polled at 10 Hz": (base + ["--web", "127.0.0.1:18765"],
                                           "http://127.0.0.1:18765/api/status"),
        "jsonl + sqlite": (base + ["-o", "sqlite:" + os.path.join(tmp, "f.db")], None),
    }
    if a.mysql:
        modes["jsonl + mysql"] = (base + ["-o", a.mysql], None)
    results = {m: [] for m in modes}
    for _ in range(a.repeat):
        for mode, (cmd, url) in modes.items():
            if mode == "jsonl + sqlite":
                for f in ("f.db", "f.db-wal", "f.db-shm"):
                    if os.path.exists(os.path.join(tmp, f)):
                        os.remove(os.path.join(tmp, f))
            results[mode].append(run_once(cmd, url))
    with open(os.path.join(tmp, "f.jsonl")) as f:
        records = sum(1 for _ in f)
    print(f"capture: {a.packets} packets of 64 bytes, {records} flow records; "
          f"{a.repeat} runs of each, interleaved; medians")
    print("| output | wall s | CPU s | wall / jsonl | CPU / jsonl | records/s | polls |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    wall0 = statistics.median(r[0] for r in results["jsonl"])
    cpu0 = statistics.median(r[1] for r in results["jsonl"])
    for mode, rs in results.items():
        wall = statistics.median(r[0] for r in rs)
        cpu = statistics.median(r[1] for r in rs)
        polls = statistics.median(r[2] for r in rs)
        print(f"| {mode} | {wall:.3f} | {cpu:.3f} | {wall / wall0:.3f} | {cpu / cpu0:.3f} | "
              f"{records / wall:,.0f} | {polls:.0f} |")
    spread = [r[0] for r in results["jsonl"]]
    print(f"jsonl wall time over its runs: min {min(spread):.3f}, max {max(spread):.3f} s "
          "(the noise)")


if __name__ == "__main__":
    main()
