#!/usr/bin/env python3
# The file path against other readers (docs/PERFORMANCE.md, "The file path against tcpdump,
# nfpcapd and softflowd"). Usage:
#   bench_file_path.py CAPTURE ROUNDS PACKETS_IN_CAPTURE '{"name": "command", ...}'
# softflowd's command must use -c /tmp/perf_sf.ctl; nfpcapd's writes into /tmp/perf_nf.
# One run, interleaved rounds: every tool reads the same page-cached capture once per round;
# medians of the wall time (start to exit) and of the CPU time (user + sys, wait4), and the
# median over rounds of the first tool's wall time over each tool's, both taken in the same
# round (the read floor's share, steadier than a ratio of medians on a noisy machine).
# softflowd 1.1.0 -r blocks in accept() on its control socket between chunks of the file:
# it is sent `statistics` over that socket until it has processed every packet, then
# `shutdown` (which exports every flow and exits), all inside the timed interval.
import json, os, re, shutil, socket, statistics, subprocess, sys, time
cap, reps, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
tools = json.loads(sys.argv[4])
CTL = "/tmp/perf_sf.ctl"
def ctl(cmd):
    s = socket.socket(socket.AF_UNIX)
    s.connect(CTL); s.sendall(cmd.encode() + b"\n")
    out = b""
    try:
        while (d := s.recv(65536)): out += d
    except ConnectionResetError: pass
    s.close(); return out.decode(errors="replace")
def run(cmd, softflowd):
    if softflowd and os.path.exists(CTL): os.unlink(CTL)
    t0 = time.perf_counter()
    p = subprocess.Popen("exec " + cmd, shell=True, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    if softflowd:
        while not os.path.exists(CTL): time.sleep(0.001)
        while True:
            try:
                m = re.search(r"Packets processed: (\d+)", ctl("statistics"))
            except (ConnectionRefusedError, FileNotFoundError):
                time.sleep(0.001); continue
            if m and int(m.group(1)) >= total: break
        ctl("shutdown")
    _, status, ru = os.wait4(p.pid, 0)
    return time.perf_counter() - t0, ru.ru_utime + ru.ru_stime, status
res = {n: ([], []) for n in tools}
for r in range(reps):
    for name, cmd in tools.items():
        if "nfpcapd" in cmd:
            shutil.rmtree("/tmp/perf_nf", ignore_errors=True); os.makedirs("/tmp/perf_nf")
        w, c, st = run(cmd, "softflowd" in cmd)
        if st != 0: print(name, "exit status", st, file=sys.stderr)
        res[name][0].append(w); res[name][1].append(c)
first = next(iter(res.values()))[0]
print("| tool | wall median (s) | wall range (s) | CPU median (s) | first tool / tool, per round: median (range) |")
for name, (w, c) in res.items():
    ratios = [f / t for f, t in zip(first, w)]
    print(f"| {name} | {statistics.median(w):.3f} | {min(w):.3f}-{max(w):.3f} | "
          f"{statistics.median(c):.3f} | {statistics.median(ratios):.0%} ({min(ratios):.0%}-{max(ratios):.0%}) |")
