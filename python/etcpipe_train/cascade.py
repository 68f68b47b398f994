"""The cascade of classify --in-kernel, scored on a dataset: the kernel's integer forest
decides the flows it is at least P sure of, the user-space model the others; for each P,
how many flows each tier decides and its accuracy, and the whole's.

    python3 -m etcpipe_train.cascade --data DS --kernel-model models/kernel \\
        [--cascade-model models/default] [--min-confidence 0,0.5,0.7,0.9] [--all]

The kernel tier is the integer form (kernel.json) on the dataset's features quantized as
the kernel keeps them (export.quantize: the rows' iats, floor to microseconds; the kernel
times packets itself, so live iats can differ by microseconds). Without --cascade-model the
user tier is the kernel model's own float forest, as in etcpipe. Scored on the test side of
the kernel model's split (its seed and share), or every flow with --all.
"""
import argparse
import json
import os
import sys

import numpy as np

from . import data, export, predict


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--kernel-model", required=True, help="a kforest model directory (kernel.json)")
    ap.add_argument("--cascade-model", help="the user-space model (default: the kernel model's float forest)")
    ap.add_argument("--min-confidence", default="0,0.5,0.6,0.7,0.8,0.9",
                    help="the values of --in-kernel-min-confidence to score (comma-separated)")
    ap.add_argument("--all", action="store_true", help="score every flow of the dataset")
    args = ap.parse_args(argv)

    ds = data.Dataset(args.data)
    kmodel, klabels = predict.load_model(args.kernel_model)
    if args.all:
        rows = np.arange(len(ds))
    else:
        t = kmodel.get("training", {})
        test, _ = data.split(ds.labels, ds.captures, t.get("seed", 1), t.get("test_share", 0.3))
        rows = np.flatnonzero(test)
    with open(os.path.join(args.kernel_model, "kernel.json")) as f:
        kdoc = json.load(f)
    inputs, packets = kdoc["inputs"], kdoc["packets"]
    kcls, kconf = export.kernel_predict(kdoc, export.quantize(ds.features(inputs, rows, packets), inputs, packets))
    kernel_label = np.array(klabels["classes"])[kcls]
    user = args.cascade_model or args.kernel_model
    _, ulabels = predict.load_model(user)
    user_label = np.array(ulabels["classes"])[predict.proba(user, ds, rows).argmax(axis=1)]

    def truth(classes, other):  # the dataset's labels in a model's class set
        known = set(classes)
        return np.array([ds.labels[i] if ds.labels[i] in known else other for i in rows])

    k_true = truth(klabels["classes"], klabels.get("other", "other"))
    u_true = truth(ulabels["classes"], ulabels.get("other", "other"))
    print(f"{len(rows)} flows; kernel tier: {args.kernel_model} (K={packets}), user tier: {user}")
    print("| min confidence | kernel tier: flows | accuracy | user tier: flows | accuracy | all: accuracy |")
    print("| --- | --- | --- | --- | --- | --- |")
    for p in (float(x) for x in args.min_confidence.split(",")):
        in_kernel = kconf >= p
        k_ok = kernel_label[in_kernel] == k_true[in_kernel]
        u_ok = user_label[~in_kernel] == u_true[~in_kernel]
        acc = lambda ok: f"{ok.mean():.3f}" if len(ok) else "-"
        print(f"| {p:g} | {in_kernel.sum()} | {acc(k_ok)} | {(~in_kernel).sum()} | {acc(u_ok)} | "
              f"{(k_ok.sum() + u_ok.sum()) / len(rows):.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
