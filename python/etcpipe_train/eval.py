"""Evaluates a model directory on a dataset: accuracy, macro-F1, per-class
precision/recall/F1, the confusion matrix as text and PNG.

    python3 -m etcpipe_train.eval --model models/forest --data DS [--out DIR] [--all]

By default only the test side of the split the model was trained with (same seed and
share, by capture wherever a label spans several captures) is scored; --all scores every
flow (for a dataset the model never saw). A verdict below the model's min_confidence is
its catch-all class, as in etcpipe classify.
"""
import argparse
import json
import os
import sys

import numpy as np

from . import data, metrics, predict


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", help="where report.txt, report.json and confusion.png go")
    ap.add_argument("--all", action="store_true", help="score every flow of the dataset")
    args = ap.parse_args(argv)

    model, labels = predict.load_model(args.model)
    classes = labels["classes"]
    ds = data.Dataset(args.data)
    y = data.encode(ds.labels, classes, labels.get("other", "other"))
    if args.all:
        rows, by_flow = np.arange(len(ds)), []
    else:
        t = model.get("training", {})
        test, by_flow = data.split(ds.labels, ds.captures, t.get("seed", 1), t.get("test_share", 0.3))
        rows = np.flatnonzero(test)
    p = predict.proba(args.model, ds, rows)
    pred = p.argmax(axis=1)
    other = labels.get("other", "other")
    if other in classes:  # the model's own threshold, as etcpipe classify applies it
        pred[p.max(axis=1) < model.get("min_confidence", 0)] = classes.index(other)
    rep = metrics.report(y[rows], pred, classes, by_flow)
    txt = metrics.text(rep, by_flow)
    print(txt)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "report.txt"), "w") as f:
            f.write(txt + "\n")
        with open(os.path.join(args.out, "report.json"), "w") as f:
            json.dump(rep, f, indent=1)
        metrics.plot(rep, os.path.join(args.out, "confusion.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
