#!/usr/bin/env python3
"""--web during a live capture in the network namespaces of live_test.py: the JSON endpoint
against the run's own statistics and records, and the page in headless Chromium (Debian's
chromium): its numbers move and it shows no script error.

Usage: web_test.py ETCPIPE_BINARY SOURCE_DIR SHARED_DATA_DIR [TEST...]
Set ETCPIPE_WEB_SCREENSHOT=FILE.png to keep a screenshot of the page during the run.
Skipped (exit 77) when not root or without chromium and tcpreplay."""
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import live_test  # noqa: E402  (the namespaces, the capture and replay helpers)

SKIP = 77
URL = "http://127.0.0.1:8080/"  # in the receiving namespace, on its own loopback
CHROMIUM = ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--enable-logging=stderr", "--v=0"]
IDLE = ["--tcp-idle", "1", "--udp-idle", "1", "--other-idle", "1", "--tcp-close-timeout", "1"]


def in_receiver(*args, timeout=60):
    return subprocess.run(["ip", "netns", "exec", live_test.RECEIVER, *args],
                          capture_output=True, text=True, timeout=timeout)


def status():
    """The JSON endpoint's object; the server starts listening just after "listening on"
    (the outputs open after the inputs), so a refused connection is tried again, 10 s."""
    deadline = time.monotonic() + 10
    while True:
        out = in_receiver("/usr/bin/python3", "-c", "import sys, urllib.request; sys.stdout."
                          "write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())",
                          URL + "api/status")
        if out.returncode == 0:
            return json.loads(out.stdout)
        if "Connection refused" not in out.stderr or time.monotonic() > deadline:
            raise AssertionError(out.stderr)
        time.sleep(0.05)


class Web(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()

    def tearDown(self):
        live_test.stop_captures()
        self.tmp.cleanup()

    def test_the_json_endpoint_holds_the_runs_statistics_and_records(self):
        cap = live_test.Capture(self.tmp.name, "classify", "--web", URL[7:-1], "--stats-interval",
                                "0.5", *IDLE)
        before = status()
        self.assertTrue(before["running"])
        self.assertEqual(before["command"], "classify")
        self.assertEqual(before["input"], live_test.RECEIVER)
        self.assertEqual(before["verdicts"], [])
        self.assertIsNone(before["enforcement"])
        sent = live_test.replay(live_test.MANY_FLOWS, "--pps", live_test.RATE)
        # Until every flow has ended on its 1 s timeout and its record is written.
        deadline = time.monotonic() + 30
        while True:
            during = status()
            stats = during["stats"]  # {} until the first snapshot
            if (stats.get("flows_active") == 0 and stats.get("packets_received") == sent
                    and during["records"]["written"] == stats.get("flows_created")):
                break
            self.assertLess(time.monotonic(), deadline, during)
            time.sleep(0.25)
        # The snapshot is one of the run's own statistics lines, the same to the last field.
        lines = cap.stats_lines()
        self.assertIn(during["stats"], lines)
        self.assertEqual(during["stats"]["packets_received"], sent)
        self.assertEqual(cap.stop(), 0, cap.stderr())
        records = cap.records()
        self.assertEqual(during["records"]["written"], len(records))
        self.assertEqual(during["records"]["classified"],
                         sum(r["label"] is not None for r in records))
        per_label = collections.Counter()
        for bucket in during["labels"]["buckets"]:
            per_label.update(bucket["counts"])
        self.assertEqual(per_label, collections.Counter(r["label"] or "(none)" for r in records))
        by_bytes = sorted((r["bytes_fwd"] + r["bytes_rev"] for r in records), reverse=True)
        self.assertEqual([f["bytes"] for f in during["top_flows"]], by_bytes[:10])
        last = during["verdicts"]
        self.assertEqual(len(last), min(50, len(records)))
        newest = {(r["src_ip"], r["src_port"], r["dst_ip"], r["dst_port"], r["label"])
                  for r in records[-50:]}
        self.assertTrue({(v["src_ip"], v["src_port"], v["dst_ip"], v["dst_port"], v["label"])
                         for v in last} <= newest)
        self.assertGreater(during["rates"]["packets_per_s"], -1)
        self.assertEqual(during["stats"]["packets_read"], sum(r["pkts_fwd"] + r["pkts_rev"]
                                                              for r in records))

    def test_the_page_in_chromium_moves_with_the_run_and_has_no_script_error(self):
        cap = live_test.Capture(self.tmp.name, "classify", "--web", URL[7:-1], "--stats-interval",
                                "0.25", *IDLE)
        # Traffic for the whole time the page is open: 2,011 packets at 400 a second.
        sender = threading.Thread(target=live_test.replay, args=(live_test.SCAN, "--pps", "400"))
        sender.start()
        try:
            status()  # listening
            time.sleep(0.5)
            page = in_receiver(*CHROMIUM, "--virtual-time-budget=15000", "--dump-dom", URL)
            screenshot = os.environ.get("ETCPIPE_WEB_SCREENSHOT")
            if screenshot:
                shot = in_receiver(*CHROMIUM, "--virtual-time-budget=6000",
                                   "--window-size=1280,1000", "--screenshot=" + screenshot, URL)
                self.assertEqual(shot.returncode, 0, shot.stderr)
        finally:
            sender.join()
        self.assertEqual(cap.stop(), 0, cap.stderr())
        self.assertEqual(page.returncode, 0, page.stderr)
        body = re.search(r"<body([^>]*)>", page.stdout)
        self.assertIsNotNone(body, page.stdout[:2000])
        attrs = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', body.group(1)))
        self.assertEqual(attrs.get("errors"), "0", page.stdout[:3000])
        self.assertGreaterEqual(int(attrs["polls"]), 3, attrs)
        self.assertGreater(int(attrs["last-packets"]), int(attrs["first-packets"]), attrs)
        console = [line for line in page.stderr.splitlines() if "Uncaught" in line or
                   ("CONSOLE" in line and URL in line)]  # not Chromium's own pages' messages
        self.assertEqual(console, [])
        self.assertRegex(page.stdout, r'id="packets-read"[^>]*>[^<]*[1-9]')


def main():
    return live_test.main_in_lab("web_test", ("tcpreplay", "ip", "chromium"), loopback=True)


if __name__ == "__main__":
    sys.exit(main())
