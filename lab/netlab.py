# The lab's machinery: a run's two network namespaces joined by a veth pair, the
# processes started in them, the capture on the server's side, the conditions a run is
# given, and the flows of a capture. lab/generate drives it; lab/classes.py says what each
# class starts.
import ipaddress
import os
import random
import shutil
import signal
import struct
import subprocess
import time

SERVER, CLIENT = "server", "client"


def sh(argv, check=True, **kw):
    """Runs a command to its end; its output is kept for the error message."""
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, argv))}: exit {p.returncode}: {p.stdout.strip()[-400:]}")
    return p.stdout


def run_subnet(run):
    """Run `run`'s own /24 (server .1, client .2): no 5-tuple of one run is another's."""
    net = ipaddress.ip_network("10.64.0.0/10")
    base = int(net.network_address) + (run % 16384) * 256
    return str(ipaddress.ip_address(base + 1)), str(ipaddress.ip_address(base + 2))


class Conditions:
    """What a run's link does, drawn from the run's seed: rate limit (tbf on both ends),
    MTU, random loss (iptables statistic, both ways), and the workload's sizes."""

    RATES = [None, None, "50mbit", "20mbit", "5mbit"]
    MTUS = [1500, 1500, 1420, 1280]
    LOSSES = [0.0, 0.0, 0.005, 0.01]

    def __init__(self, rng):
        self.rate = rng.choice(self.RATES)
        self.mtu = rng.choice(self.MTUS)
        self.loss = rng.choice(self.LOSSES)
        self.sizes = [int(rng.choice([2e3, 2e4, 1e5, 5e5, 2e6]) * rng.uniform(0.5, 1.5))
                      for _ in range(rng.randint(2, 5))]
        self.pause = rng.uniform(0.05, 0.5)

    def as_dict(self):
        return {"rate": self.rate, "mtu": self.mtu, "loss": self.loss, "sizes": self.sizes,
                "pause_s": round(self.pause, 3)}


class Run:
    """One class run: namespaces, veth, processes, capture. Always ends with down()."""

    def __init__(self, index, workdir, conditions):
        tag = f"{os.getpid()}r{index % 10000}"  # interface names: 15 characters at most
        self.ns = {SERVER: f"etclab{tag}s", CLIENT: f"etclab{tag}c"}
        self.dev = {SERVER: f"el{tag}s"[:15], CLIENT: f"el{tag}c"[:15]}
        self.ip = dict(zip((SERVER, CLIENT), run_subnet(index)))
        self.dir = workdir
        self.cond = conditions
        self.procs = []
        self.capture = None

    def up(self):
        os.makedirs(self.dir, exist_ok=True)
        for side in (SERVER, CLIENT):
            sh(["ip", "netns", "add", self.ns[side]])
        sh(["ip", "link", "add", self.dev[SERVER], "type", "veth", "peer", "name", self.dev[CLIENT]])
        for side in (SERVER, CLIENT):
            ns, dev = self.ns[side], self.dev[side]
            sh(["ip", "link", "set", dev, "netns", ns])
            self.exec(side, ["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
                             "net.ipv6.conf.default.disable_ipv6=1"])
            sh(["ip", "-n", ns, "link", "set", "lo", "up"])
            sh(["ip", "-n", ns, "addr", "add", f"{self.ip[side]}/24", "dev", dev])
            sh(["ip", "-n", ns, "link", "set", dev, "mtu", str(self.cond.mtu), "up"])
            if self.cond.rate:
                sh(["ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", dev, "root", "tbf",
                    "rate", self.cond.rate, "burst", "32kb", "latency", "200ms"])
            if self.cond.loss:
                sh(["ip", "netns", "exec", ns, "iptables", "-A", "INPUT", "-i", dev, "-m",
                    "statistic", "--mode", "random", "--probability", str(self.cond.loss), "-j",
                    "DROP"])

    def exec(self, side, argv, check=True, timeout=60, env=None):
        return sh(["ip", "netns", "exec", self.ns[side]] + list(map(str, argv)), check=check,
                  timeout=timeout, env=env, cwd=self.dir)

    def spawn(self, side, argv, name, env=None, stdin=subprocess.DEVNULL):
        """Starts a process in a namespace; its output goes to DIR/NAME.log."""
        log = open(os.path.join(self.dir, name + ".log"), "w")
        p = subprocess.Popen(["ip", "netns", "exec", self.ns[side]] + list(map(str, argv)),
                             stdout=log, stderr=subprocess.STDOUT, stdin=stdin, cwd=self.dir,
                             env=env, start_new_session=True)
        log.close()
        self.procs.append(p)
        return p

    def start_capture(self, pcap):
        self.capture = self.spawn(SERVER, ["tcpdump", "--immediate-mode", "-U", "-Z", "root", "-nni",
                                           self.dev[SERVER], "-s", "0", "-w", pcap, "ip"],
                                  "tcpdump")
        wait_for(lambda: os.path.exists(pcap) and os.path.getsize(pcap) >= 24, 5, "tcpdump")

    def stop_capture(self):
        time.sleep(0.3)  # what is on the wire reaches the capture
        self.capture.send_signal(signal.SIGINT)
        self.capture.wait(timeout=10)

    def down(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.time() + 3
        for p in self.procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        for side in (SERVER, CLIENT):  # with anything a daemon forked off on its own
            remove_namespace(self.ns[side])
        # A pair not yet moved into its namespaces (up() failed half-way) is in ours.
        sh(["ip", "link", "del", self.dev[SERVER]], check=False)


def remove_namespace(ns):
    """Kills what runs in `ns`, then removes it."""
    for pid in sh(["ip", "netns", "pids", ns], check=False).split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass
    sh(["ip", "netns", "del", ns], check=False)


def wait_for(ready, seconds, what):
    deadline = time.time() + seconds
    while not ready():
        if time.time() > deadline:
            raise RuntimeError(f"{what} not ready after {seconds} s")
        time.sleep(0.05)


def leftover_namespaces():
    """The namespaces of lab runs whose process is gone (killed with SIGKILL)."""
    out = sh(["ip", "netns", "list"], check=False)
    names = [line.split()[0] for line in out.splitlines() if line.startswith("etclab")]
    return [n for n in names if not alive(int(n[len("etclab"):].split("r")[0]))]


def alive(pid):
    """Whether process `pid` runs (a zombie does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def flows_of(pcap):
    """The 5-tuples of a capture (Ethernet, IPv4, TCP or UDP), each direction folded into
    its first packet's: {(src, sport, dst, dport, proto): packets}."""
    flows = {}
    with open(pcap, "rb") as f:
        head = f.read(24)
        if len(head) < 24:
            return flows
        endian = "<" if head[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                break
            caplen = struct.unpack(endian + "IIII", rec)[2]
            frame = f.read(caplen)
            if len(frame) < 14 + 20 or frame[12:14] != b"\x08\x00":
                continue
            ip = frame[14:]
            ihl = (ip[0] & 15) * 4
            proto = ip[9]
            if proto not in (6, 17) or len(ip) < ihl + 4 or struct.unpack(">H", ip[6:8])[0] & 0x1FFF:
                continue
            src, dst = str(ipaddress.ip_address(ip[12:16])), str(ipaddress.ip_address(ip[16:20]))
            sport, dport = struct.unpack(">HH", ip[ihl:ihl + 4])
            name = "TCP" if proto == 6 else "UDP"
            key, rev = (src, sport, dst, dport, name), (dst, dport, src, sport, name)
            k = rev if rev in flows else key
            flows[k] = flows.get(k, 0) + 1
    return flows


def random_blobs(directory, sizes, rng):
    """Files of random bytes (incompressible) for the workload to fetch: blob0.bin, ..."""
    os.makedirs(directory, exist_ok=True)
    names = []
    for i, n in enumerate(sizes):
        name = f"blob{i}.bin"
        with open(os.path.join(directory, name), "wb") as f:
            f.write(rng.randbytes(n))
        names.append(name)
    return names


def have(tool):
    return shutil.which(tool) is not None


def rng_for(seed, run):
    return random.Random(seed * 1_000_003 + run)
