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
import threading
import time

SERVER, CLIENT = "server", "client"


def sh(argv, check=True, **kw):
    """Runs a command to its end; its output is kept for the error message."""
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, argv))}: exit {p.returncode}: {p.stdout.strip()[-400:]}")
    return p.stdout


MAX_RUNS = 16384  # of one output directory: its runs' subnets are distinct


def run_subnet(run):
    """Run `run`'s own /24 (server .1, client .2): no 5-tuple of one run is another's."""
    assert 0 <= run < MAX_RUNS
    net = ipaddress.ip_network("10.64.0.0/10")
    base = int(net.network_address) + run * 256
    return str(ipaddress.ip_address(base + 1)), str(ipaddress.ip_address(base + 2))


class Link:
    """Delay, jitter and loss on each way of a run's link, and its rate: the arguments of
    `tc qdisc ... netem`, and what the lab does with them where the kernel has no netem."""

    def __init__(self, netem):
        self.netem = netem
        self.delay_ms = self.jitter_ms = self.loss = 0.0
        self.rate = None
        words = netem.split()
        i = 0
        while i < len(words):
            word = words[i]
            if word == "delay" and i + 1 < len(words):
                self.delay_ms = _ms(words[i + 1])
                if i + 2 < len(words) and _is_time(words[i + 2]):
                    self.jitter_ms = _ms(words[i + 2])
                    i += 1
                i += 2
            elif word == "loss" and i + 1 < len(words) and words[i + 1].endswith("%"):
                self.loss = float(words[i + 1][:-1])
                i += 2
            elif word == "rate" and i + 1 < len(words):
                self.rate = words[i + 1]
                i += 2
            else:
                # The NFQUEUE stage does the rest: reordering, duplication, distributions and
                # correlations are netem's alone.
                self.unsupported = word
                return
        self.unsupported = None


def _is_time(word):
    return word.rstrip("smu").replace(".", "", 1).isdigit()


def _ms(word):
    for unit, scale in (("ms", 1.0), ("us", 1e-3), ("s", 1e3)):
        if word.endswith(unit) and _is_time(word):
            return float(word[:-len(unit)]) * scale
    if word.replace(".", "", 1).isdigit():
        return float(word) / 1e3  # netem's default unit is the microsecond
    raise ValueError(f"netem: {word!r} is not a time (e.g. 20ms)")


class Conditions:
    """What a run's link does, drawn from the run's seed: rate limit, MTU, delay, jitter and
    random loss each way, and the workload's sizes. `netem` (lab/generate --netem) replaces
    the drawn delay, jitter and loss (and the rate, when it sets one)."""

    RATES = [None, None, "50mbit", "20mbit", "5mbit"]
    MTUS = [1500, 1500, 1420, 1280]
    LOSSES = [0.0, 0.0, 0.5, 1.0]  # percent
    DELAYS = [0, 0, 2, 10, 25]     # milliseconds, each way
    JITTERS = [0.0, 0.2, 0.5]      # of the delay

    def __init__(self, rng, netem=None):
        self.rate = rng.choice(self.RATES)
        self.mtu = rng.choice(self.MTUS)
        loss = rng.choice(self.LOSSES)
        delay = rng.choice(self.DELAYS)
        jitter = round(delay * rng.choice(self.JITTERS), 1)
        self.sizes = [int(rng.choice([2e3, 2e4, 1e5, 5e5, 2e6]) * rng.uniform(0.5, 1.5))
                      for _ in range(rng.randint(2, 5))]
        self.pause = rng.uniform(0.05, 0.5)
        self.link_seed = rng.getrandbits(32)
        if netem is None:
            netem = ((f"delay {delay}ms" + (f" {jitter}ms" if jitter else "") + " " if delay else "")
                     + (f"loss {loss}%" if loss else ""))
        self.link = Link(netem.strip())
        self.rate = self.link.rate or self.rate

    def as_dict(self):
        return {"rate": self.rate, "mtu": self.mtu, "netem": self.link.netem,
                "delay_ms": self.link.delay_ms, "jitter_ms": self.link.jitter_ms,
                "loss_percent": self.link.loss, "sizes": self.sizes, "pause_s": round(self.pause, 3)}


class Run:
    """One class run: namespaces, veth, processes, capture. Always ends with down()."""

    def __init__(self, index, workdir, conditions):
        tag = f"{os.getpid()}r{index:x}"  # interface names: 15 characters at most
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
            self._shape(side)

    def _shape(self, side):
        """The link's conditions on `side`'s egress: netem where the kernel has it (rate as
        its own option), else tbf for the rate, iptables statistic for loss (on input) and
        the NFQUEUE stage (nfqdelay.c) for delay and jitter. Where netem drops a packet on
        its way out, iptables drops it on its way in, after the server side's capture saw
        it: a lost packet of the client's is in the capture, before its retransmission."""
        ns, dev, cond, link = self.ns[side], self.dev[side], self.cond, self.cond.link
        tc = ["ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", dev, "root"]
        if link_path() == "netem":
            if link.netem or cond.rate:
                rate = ["rate", cond.rate] if cond.rate and not link.rate else []
                sh(tc + ["netem"] + link.netem.split() + rate)
            return
        if cond.rate:
            sh(tc + ["tbf", "rate", cond.rate, "burst", "32kb", "latency", "200ms"])
        if link.loss:
            sh(["ip", "netns", "exec", ns, "iptables", "-A", "INPUT", "-i", dev, "-m", "statistic",
                "--mode", "random", "--probability", str(link.loss / 100), "-j", "DROP"])
        if link.delay_ms:
            log = os.path.join(self.dir, f"nfqdelay-{side}.log")
            self.spawn(side, [nfqdelay(), 0, link.delay_ms, link.jitter_ms,
                              cond.link_seed + (side == CLIENT)], f"nfqdelay-{side}")
            wait_for(lambda: "ready" in open(log).read(), 5, "nfqdelay")
            # --queue-bypass: were the stage to die, packets would pass undelayed, not vanish.
            sh(["ip", "netns", "exec", ns, "iptables", "-A", "OUTPUT", "-o", dev, "-j", "NFQUEUE",
                "--queue-num", "0", "--queue-bypass"])

    def exec(self, side, argv, check=True, timeout=60, env=None):
        if STOP.is_set():
            raise RuntimeError("interrupted")
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
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:  # gone meanwhile (down() runs in two threads)
                    pass
                p.wait()
        for side in (SERVER, CLIENT):  # with anything a daemon forked off on its own
            remove_namespace(self.ns[side])
        # A pair not yet moved into its namespaces (up() failed half-way) is in ours.
        sh(["ip", "link", "del", self.dev[SERVER]], check=False)


_link_path = None


def link_path():
    """"netem" where the kernel has the netem qdisc (tried once, on a scratch namespace's
    loopback), else "nfqueue"."""
    global _link_path
    if _link_path is None:
        ns = f"etclab{os.getpid()}rprobe"
        sh(["ip", "netns", "add", ns])
        try:
            ok = subprocess.run(["ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", "lo", "root",
                                 "netem", "delay", "1ms"], capture_output=True).returncode == 0
        finally:
            sh(["ip", "netns", "del", ns], check=False)
        _link_path = "netem" if ok else "nfqueue"
    return _link_path


def nfqdelay():
    """The NFQUEUE delay stage, compiled from lab/nfqdelay.c into lab/.build once."""
    here = os.path.dirname(os.path.abspath(__file__))
    src, out = os.path.join(here, "nfqdelay.c"), os.path.join(here, ".build", "nfqdelay")
    if not os.path.exists(out) or os.path.getmtime(out) < os.path.getmtime(src):
        os.makedirs(os.path.dirname(out), exist_ok=True)
        sh(["gcc", "-O2", "-o", out + ".tmp", src, "-lnetfilter_queue", "-lnfnetlink"])
        os.replace(out + ".tmp", out)
    return out


def remove_namespace(ns):
    """Kills what runs in `ns`, then removes it."""
    for pid in sh(["ip", "netns", "pids", ns], check=False).split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass
    sh(["ip", "netns", "del", ns], check=False)


STOP = threading.Event()  # set when the lab is interrupted: runs in progress give up waiting


def wait_for(ready, seconds, what):
    deadline = time.time() + seconds
    while not ready():
        if STOP.is_set():
            raise RuntimeError("interrupted")
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


def pcap_records(f):
    """The (header, frame) records of an open pcap file, after its 24-byte file header,
    which comes first: (file header, endianness) then (record header, frame)..."""
    head = f.read(24)
    if len(head) < 24:
        return
    endian = "<" if head[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    yield head, endian
    while True:
        rec = f.read(16)
        if len(rec) < 16:
            return
        frame = f.read(struct.unpack(endian + "IIII", rec)[2])
        yield rec, frame


def frame_flow(frame):
    """The 5-tuple (src, sport, dst, dport, "TCP" | "UDP") of an Ethernet + IPv4 frame, or
    None (not TCP or UDP over IPv4, or a fragment after the first)."""
    if len(frame) < 14 + 20 or frame[12:14] != b"\x08\x00":
        return None
    ip = frame[14:]
    ihl = (ip[0] & 15) * 4
    proto = ip[9]
    if proto not in (6, 17) or len(ip) < ihl + 4 or struct.unpack(">H", ip[6:8])[0] & 0x1FFF:
        return None
    sport, dport = struct.unpack(">HH", ip[ihl:ihl + 4])
    return (str(ipaddress.ip_address(ip[12:16])), sport, str(ipaddress.ip_address(ip[16:20])), dport,
            "TCP" if proto == 6 else "UDP")


def flows_of(pcap):
    """The 5-tuples of a capture, each direction folded into its first packet's:
    {(src, sport, dst, dport, proto): packets}."""
    flows = {}
    with open(pcap, "rb") as f:
        records = pcap_records(f)
        next(records, None)
        for _, frame in records:
            key = frame_flow(frame)
            if key is None:
                continue
            src, sport, dst, dport, name = key
            rev = (dst, dport, src, sport, name)
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


def rng_for(seed, class_name, k):
    """The random source of class `class_name`'s k-th run under `seed`: the same run of the
    same class whatever else the lab generates."""
    return random.Random(f"{seed}/{class_name}/{k}")
