"""Two network namespaces joined by a veth pair, each end named after its namespace, for
the live tests and benchmarks (tests/integration/live_test.py and those that import it,
scripts/bench_live.py); and the CPU time of a process as the scheduler counts it."""
import atexit
import os
import subprocess


def sh(*args, check=True, timeout=120):
    return subprocess.run(args, capture_output=True, text=True, check=check, timeout=timeout)


def remove(*namespaces):
    for ns in namespaces:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def make(a, b, mtu, queues=2, loopback=()):
    """Namespaces a and b (made anew), a veth pair with `queues` queues each way between
    them, no IPv6 (no router solicitations or MLD reports in a capture), the MTU given, the
    loopback up in the namespaces named in `loopback`. Removed at exit."""
    remove(a, b)
    atexit.register(remove, a, b)
    sh("ip", "netns", "add", a)
    sh("ip", "netns", "add", b)
    q = ["numtxqueues", str(queues), "numrxqueues", str(queues)]
    sh("ip", "link", "add", a, *q, "type", "veth", "peer", "name", b, *q)
    for ns in (a, b):
        sh("ip", "link", "set", ns, "netns", ns)
        sh("ip", "netns", "exec", ns, "sysctl", "-qw", f"net.ipv6.conf.{ns}.disable_ipv6=1")
        sh("ip", "netns", "exec", ns, "ip", "link", "set", ns, "mtu", str(mtu), "up")
    for ns in loopback:
        sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")


def cpu_seconds(pid):
    """CPU time of a process, all its threads, in seconds, from the scheduler's own
    nanosecond accounting (/proc/PID/task/*/schedstat): tick sampling (utime, stime, in
    10 ms steps) is biased where the work follows a timer in step with the tick."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass  # a thread that ended
    return total / 1e9
