"""Accuracy of the in-kernel forest against the number of packets K it waits for.

    python3 -m etcpipe_train.kernel_sweep --data DS --out DIR [--max-packets N]

Trains a kforest for K = 1..N (train.py, the same split and seed) into DIR/kK and prints a
Markdown table: for each K, the float model's and the integer form's accuracy and macro-F1
on the test flows (docs/MODELS.md).
"""
import argparse
import contextlib
import io
import json
import os
import sys

from . import data, train


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--max-packets", type=int, help="default: the dataset's packets")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    n = args.max_packets or data.Dataset(args.data).spec["packets"]
    print("| K | accuracy | macro-F1 | integer form: accuracy | macro-F1 | same class |")
    print("| --- | --- | --- | --- | --- | --- |")
    for k in range(1, n + 1):
        out = os.path.join(args.out, f"k{k}")
        with contextlib.redirect_stdout(io.StringIO()):
            train.main(["--data", args.data, "--arch", "kforest", "--packets", str(k), "--out", out,
                        "--seed", str(args.seed)])
        with open(os.path.join(out, "report.json")) as f:
            rep = json.load(f)
        kr = rep["kernel"]
        print(f"| {k} | {rep['accuracy']:.3f} | {rep['macro_f1']:.3f} | {kr['accuracy']:.3f} | "
              f"{kr['macro_f1']:.3f} | {kr['agreement']:.1%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
