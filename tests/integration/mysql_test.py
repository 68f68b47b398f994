#!/usr/bin/env python3
"""The mysql output against a real MariaDB server (Debian's mariadb-server) that the test
starts with its own data directory, socket and TCP port under a temporary directory, and stops
at the end. The server going away during a run is tried on a live capture in the network
namespaces of live_test.py.

Usage: mysql_test.py ETCPIPE_BINARY SOURCE_DIR SHARED_DATA_DIR [TEST...]
Skipped (exit 77) without mariadbd and mariadb-install-db, or when not root."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import live_test  # noqa: E402  (the namespaces, the capture and replay helpers)

ETCPIPE = live_test.ETCPIPE
SOURCE = live_test.SOURCE
SAMPLE = os.path.join(SOURCE, "data", "samples", "android.pcap")
SKIP = 77
USER, PASSWORD = "probe", "s3cret:pw"  # a colon: percent-encoded in the URI
MARIADBD = shutil.which("mariadbd") or "/usr/sbin/mariadbd"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MariaDB:
    """A MariaDB server of the test's own, root by its socket, USER by password anywhere."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="etcpipe-mariadb-")
        self.sock = os.path.join(self.dir, "sock")
        self.port = free_port()
        subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={self.dir}/data",
                        "--user=root", "--auth-root-authentication-method=socket",
                        "--skip-test-db"], check=True, capture_output=True, timeout=120)
        self.proc = None
        self.start()
        self.sql(f"CREATE USER '{USER}'@'%' IDENTIFIED BY '{PASSWORD}';"
                 f"CREATE USER '{USER}'@'localhost' IDENTIFIED BY '{PASSWORD}'")

    def start(self):
        self.log = open(os.path.join(self.dir, "server.log"), "a")
        self.proc = subprocess.Popen(
            [MARIADBD, "--no-defaults", f"--datadir={self.dir}/data", "--user=root",
             f"--socket={self.sock}", f"--port={self.port}", "--bind-address=127.0.0.1",
             f"--pid-file={self.dir}/pid", "--innodb-buffer-pool-size=32M",
             "--skip-log-bin"], stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 60
        while not self.ready():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("mariadbd did not start: " + live_test.read(self.log.name))
            time.sleep(0.1)

    def ready(self):
        return subprocess.run(["mariadb", "--no-defaults", "-S", self.sock, "-u", "root", "-e",
                               "SELECT 1"], capture_output=True).returncode == 0

    def kill(self):
        """As a server that crashes: SIGKILL."""
        self.proc.kill()
        self.proc.wait()
        self.log.close()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.log.close()

    def remove(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def sql(self, statements, database=""):
        """Rows of the last statement, tab-separated columns as text (NULL as None)."""
        out = subprocess.run(["mariadb", "--no-defaults", "-S", self.sock, "-u", "root", "-N",
                              "-B", "-e", statements, *([database] if database else [])],
                             capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise AssertionError(out.stderr)
        return [[None if v == "NULL" else v for v in line.split("\t")]
                for line in out.stdout.splitlines()]

    def database(self, name):
        self.sql(f"DROP DATABASE IF EXISTS {name}; CREATE DATABASE {name};"
                 f"GRANT ALL ON {name}.* TO '{USER}'@'%'; GRANT ALL ON {name}.* TO "
                 f"'{USER}'@'localhost'")
        return name

    def tcp_uri(self, database, password=PASSWORD):
        return (f"mysql://{USER}:{password.replace(':', '%3A')}@127.0.0.1:{self.port}/"
                f"{database}")

    def socket_uri(self, database):
        return f"mysql://{USER}:{PASSWORD.replace(':', '%3A')}@/{database}?socket={self.sock}"


SERVER = None


def run(*args, timeout=300):
    return subprocess.run([ETCPIPE, *args], capture_output=True, text=True, timeout=timeout)


class Mysql(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def test_every_record_is_there_with_its_verdict(self):
        db = SERVER.database("records")
        out = run("classify", "-r", SAMPLE, "-o", self.path("f.jsonl"), "-o", SERVER.tcp_uri(db),
                  "--stats-json", self.path("s.json"))
        self.assertEqual(out.returncode, 0, out.stderr)
        with open(self.path("f.jsonl")) as f:
            jsonl = [json.loads(line) for line in f]
        self.assertIn(f"mysql: {len(jsonl)} records written (run 1)", out.stderr)
        self.assertNotIn("s3cret", out.stderr)
        fields = ["src_ip", "dst_ip", "src_port", "dst_port", "proto", "first_ts_ns", "pkts_fwd",
                  "pkts_rev", "bytes_fwd", "bytes_rev", "tcp_flags_fwd", "end_reason", "label",
                  "confidence", "verdict_status"]
        rows = SERVER.sql(f"SELECT {', '.join(fields)} FROM flows WHERE run_id = 1 ORDER BY id",
                          db)
        self.assertEqual(len(rows), len(jsonl))
        for row, j in zip(rows, jsonl):  # the records' order, each field's value
            for name, value in zip(fields, row):
                if name == "first_ts_ns":
                    self.assertLess(abs(int(value) - j["first_ts"] * 1e9), 1000)  # JSON: µs
                elif name == "confidence":
                    self.assertEqual(value is None, j["confidence"] is None)
                    if value is not None:
                        self.assertAlmostEqual(float(value), j["confidence"], places=6)
                elif j[name] is None:
                    self.assertIsNone(value, name)
                else:
                    self.assertEqual(value, str(j[name]), name)
        (finished, command, stats), = SERVER.sql(
            "SELECT finished_at, command, statistics FROM runs", db)
        self.assertIsNotNone(finished)
        self.assertIn(f"mysql://{USER}:***@127.0.0.1", command)  # the password hidden
        self.assertNotIn("s3cret", command)
        self.assertEqual(json.loads(stats)["flows_created"], len(jsonl))
        # Times as DATETIME(6) in UTC, beside the nanoseconds.
        (ts, ns), = SERVER.sql("SELECT first_ts, first_ts_ns FROM flows ORDER BY id LIMIT 1", db)
        self.assertEqual(ts, time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(int(ns) // 10**9)) +
                         f".{int(ns) % 10**9 // 1000:06d}")
        indexes = {r[2] for r in SERVER.sql("SHOW INDEX FROM flows", db)}
        self.assertTrue({"flows_time", "flows_tuple", "flows_run"} <= indexes, indexes)
        # A second run, through the unix socket, adds a run and its flows.
        out = run("flows", "-q", "-r", SAMPLE, "-o", SERVER.socket_uri(db))
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stderr, "")
        # localhost with a port: that port over TCP, not the default socket.
        out = run("flows", "-q", "-r", SAMPLE, "-o",
                  SERVER.tcp_uri(db).replace("127.0.0.1", "localhost"))
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(SERVER.sql("SELECT run_id, COUNT(*) FROM flows GROUP BY run_id", db),
                         [[str(r), str(len(jsonl))] for r in (1, 2, 3)])

    def test_committed_batches_survive_sigkill(self):
        db = SERVER.database("killed")
        capture = self.path("churn.pcap")
        gen = run("gen", "--flows", "20000", "--new-flows-per-sec", "20000", "--packet-size",
                  "64", "--packets", "4000000", "--rate", "200000", "-w", capture)
        self.assertEqual(gen.returncode, 0, gen.stderr)
        proc = subprocess.Popen([ETCPIPE, "flows", "-r", capture, "-q", "-o", SERVER.tcp_uri(db),
                                 "--workers", "1", "--tcp-idle", "1", "--udp-idle", "1"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: proc.poll() is not None or (proc.kill(), proc.wait()))

        def committed():
            try:
                return int(SERVER.sql("SELECT COUNT(*) FROM flows", db)[0][0])
            except AssertionError:  # no table yet
                return 0

        deadline = time.monotonic() + 30
        while proc.poll() is None and committed() == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertIsNone(proc.poll(), "the run ended before it could be killed")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        n = committed()
        self.assertGreater(n, 0)
        self.assertEqual(SERVER.sql("SELECT finished_at FROM runs", db), [[None]], "killed run")
        self.assertEqual(SERVER.sql("CHECK TABLE flows", db)[0][-1], "OK")

    def test_a_bad_uri_a_refused_login_or_no_server_is_a_clear_error_and_exit_2(self):
        db = SERVER.database("refused")
        cases = {
            SERVER.tcp_uri(db, password="wrong"): f"Access denied for user '{USER}'",
            SERVER.tcp_uri("nosuchdb"): "nosuchdb",
            f"mysql://{USER}@127.0.0.1:{free_port()}/{db}": "cannot connect: Can't connect",
            f"mysql://{USER}:pw@127.0.0.1/": "no DATABASE",
            f"mysql://127.0.0.1/{db}": "no USER",
        }
        for uri, message in cases.items():
            with self.subTest(uri=uri):
                out = run("flows", "-r", SAMPLE, "-o", uri, "-o", self.path("x.jsonl"))
                self.assertEqual(out.returncode, 2, out.stderr)
                self.assertEqual(out.stdout, "")
                self.assertIn(message, out.stderr)
                self.assertEqual(len(out.stderr.splitlines()), 1, out.stderr)
                self.assertNotIn("s3cret", out.stderr)
                self.assertNotIn("wrong", out.stderr.replace("Access denied", ""))

    def test_a_server_that_goes_away_during_a_live_run_loses_nothing(self):
        db = SERVER.database("restart")
        cap = live_test.Capture(self.tmp, "flows", "-o", SERVER.socket_uri(db), "--tcp-idle",
                                "1", "--udp-idle", "1", "--other-idle", "1")
        first = live_test.replay(live_test.MANY_FLOWS, "--pps", live_test.RATE)
        time.sleep(2.5)  # the flows end on their idle timeouts, their records go in
        before = int(SERVER.sql("SELECT COUNT(*) FROM flows", db)[0][0])
        self.assertGreater(before, 0)
        SERVER.kill()
        self.addCleanup(lambda: SERVER.proc.poll() is None or SERVER.start())  # for later tests
        second = live_test.replay(live_test.SMALL_FRAMES, "--pps", live_test.RATE)
        time.sleep(2.5)  # these flows end while the server is away
        SERVER.start()
        time.sleep(1.5)  # the sink connects again within a second
        self.assertEqual(cap.stop(), 0, cap.stderr())
        records = cap.records()
        totals = cap.stats_lines()[-1]
        self.assertEqual(totals["packets_received"], first + second)
        self.assertGreater(len(records), before)
        (n,), = SERVER.sql("SELECT COUNT(*) FROM flows", db)
        self.assertEqual(int(n), len(records), cap.stderr())
        self.assertRegex(cap.stderr(), rf"mysql: {len(records)} records written \(run 1\), "
                                       r"[1-9][0-9]* reconnections\n")
        self.assertNotIn("lost", cap.stderr())
        self.assertIsNotNone(SERVER.sql("SELECT finished_at FROM runs", db)[0][0])

    def test_a_server_turned_read_only_keeps_the_records_until_it_takes_writes_again(self):
        db = SERVER.database("readonly")
        cap = live_test.Capture(self.tmp, "flows", "-o", SERVER.socket_uri(db), "--tcp-idle",
                                "1", "--udp-idle", "1", "--other-idle", "1")
        # The outputs open after "listening on": until the run's row is there, a read-only
        # server refuses the run itself (a clear error at the start).
        deadline = time.monotonic() + 30
        while SERVER.sql("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = "
                         f"'{db}' AND table_name = 'runs'") == [["0"]] or \
                SERVER.sql("SELECT COUNT(*) FROM runs", db) == [["0"]]:
            self.assertLess(time.monotonic(), deadline, cap.stderr())
            time.sleep(0.05)
        with open(f"/proc/{cap.pid()}/cmdline", "rb") as f:  # what ps shows
            args = f.read().split(b"\0")
        self.assertIn(f"mysql://{USER}:{'x' * len('s3cret%3Apw')}@".encode(), b" ".join(args))
        self.assertNotIn(b"s3cret", b" ".join(args))
        SERVER.sql("SET GLOBAL read_only = 1")
        self.addCleanup(lambda: SERVER.sql("SET GLOBAL read_only = 0"))
        live_test.replay(live_test.SMALL_FRAMES, "--pps", live_test.RATE)
        time.sleep(2.5)  # the flows end on their idle timeouts; the server refuses them
        self.assertEqual(SERVER.sql("SELECT COUNT(*) FROM flows", db), [["0"]])
        SERVER.sql("SET GLOBAL read_only = 0")
        self.assertEqual(cap.stop(), 0, cap.stderr())
        records = cap.records()
        self.assertGreater(len(records), 0)
        self.assertEqual(SERVER.sql("SELECT COUNT(*) FROM flows", db), [[str(len(records))]])
        self.assertNotIn("lost", cap.stderr())


def start_server():
    global SERVER
    SERVER = MariaDB()


def main():
    if not (os.path.exists(MARIADBD) and shutil.which("mariadb-install-db")):
        print("mysql_test: skipped: mariadb-server is not installed")
        return SKIP
    out = run("flows", "-r", SAMPLE, "-o", "mysql://u@h/d")
    if "built without the MariaDB client" in out.stderr:
        print("mysql_test: skipped: " + out.stderr.strip())
        return SKIP
    return live_test.main_in_lab("mysql_test", ("tcpreplay", "ip"), setup=start_server,
                                 cleanup=lambda: SERVER and SERVER.remove())


if __name__ == "__main__":
    sys.exit(main())
