"""Evaluates a model directory on a dataset: accuracy, macro-F1, per-class
precision/recall/F1, the confusion matrix as text and PNG.

    python3 -m etcpipe_train.eval --model models/forest --data DS [--out DIR] [--all]

By default only the test side of the split the model was trained with (same seed and
share, by capture wherever a label spans several captures) is scored; --all scores every
flow (for a dataset the model never saw). As in etcpipe classify, a verdict below the
model's min_confidence is its catch-all class, and a flow out of the model's scope (fewer
packets than its scope.min_packets) gets none: it is counted, not scored.
"""
import argparse
import json
import os
import sys

import numpy as np

from . import data, metrics, predict


def verdicts(model_dir, ds, rows, min_confidence=None):
    """etcpipe classify's verdicts on rows `rows` of dataset `ds`: (class indices,
    probabilities, in scope). A row of fewer selected packets than the model's
    scope.min_packets is out of its scope (no verdict); below `min_confidence` (default:
    the model's own) the verdict is the catch-all class."""
    model, labels = predict.load_model(model_dir)
    classes, other = labels["classes"], labels.get("other", "other")
    p = predict.proba(model_dir, ds, rows)
    pred = p.argmax(axis=1)
    if min_confidence is None:
        min_confidence = model.get("min_confidence", 0)
    if other in classes:
        pred[p.max(axis=1) < min_confidence] = classes.index(other)
    with open(os.path.join(model_dir, "spec.json")) as f:
        selected = ds.selected(rows, json.load(f)["packets"])
    if selected is None:
        return pred, p, np.ones(len(rows), dtype=bool)
    return pred, p, selected >= model.get("scope", {}).get("min_packets", 0)


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
    pred, _, in_scope = verdicts(args.model, ds, rows)
    if not in_scope.all():
        print(f"{int((~in_scope).sum())} of {len(rows)} flows out of the model's scope (fewer than "
              f"{model['scope']['min_packets']} packets): not scored")
    rows, pred = rows[in_scope], pred[in_scope]
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
