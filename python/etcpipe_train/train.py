"""Trains a model on an `etcpipe extract` dataset and writes a model directory.

    python3 -m etcpipe_train.train --data DS --arch forest --out models/forest

Architectures: forest, boosting (flow statistics and sequences), kforest (a forest over the
sizes and inter-arrival times of the first --packets packets, with its integer form for the
kernel, kernel.json, and that form's scores beside the float model's), cnn (DeepPacket-style,
payload bytes), nepco (pattern-aware convolution, payload bytes), seq (bidirectional GRU
over sizes, inter-arrival times and flags). The split is by capture wherever a label spans
several captures (data.split); the test-set report is written next to the model.
"""
import argparse
import json
import os
import random
import sys

import numpy as np

from . import data, export, metrics, predict

TREE_INPUTS = ["stats", "sizes", "iats"]
KERNEL_TREE_INPUTS = ["sizes", "iats"]
HYPER = {
    "forest": {"trees": 60, "min_samples_leaf": 2, "max_features": "sqrt"},
    # Depth and trees within what the XDP classifier takes (etcpipe_xdp.h's limits).
    "kforest": {"trees": 32, "min_samples_leaf": 2, "max_features": "sqrt", "max_depth": 12,
                "packets": 5},
    "boosting": {"stages": 40, "learning_rate": 0.1, "max_depth": 3},
    "cnn": {"epochs": 60, "batch": 32, "lr": 2e-3, "width": 64},
    "nepco": {"epochs": 40, "batch": 32, "lr": 2e-3, "dim": 32, "blocks": 3},
    "seq": {"epochs": 80, "batch": 32, "lr": 3e-3, "hidden": 64},
}


def synthetic_rows(x, ratio, seed):
    """ratio x len(x) rows drawn from the product of the columns' distributions (each
    column sampled on its own): they keep every feature's range but break the combinations
    real flows have, so a model trained to call them "other" learns where the known classes
    are not (the open world: flows of classes it never saw)."""
    rng = np.random.default_rng(seed)
    n = int(round(ratio * len(x)))
    return np.stack([rng.choice(x[:, j], size=n) for j in range(x.shape[1])], axis=1)


def train_trees(arch, ds, y, train_rows, classes, seed, hp, inputs, packets, synthetic=0.0):
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    x = ds.features(inputs, train_rows, packets)
    y = y[train_rows]
    if synthetic:
        fake = synthetic_rows(x, synthetic, seed)
        x = np.concatenate([x, fake])
        y = np.concatenate([y, np.full(len(fake), classes.index("other"), dtype=y.dtype)])
    if arch in ("forest", "kforest"):
        m = RandomForestClassifier(n_estimators=hp["trees"], min_samples_leaf=hp["min_samples_leaf"],
                                   max_features=hp["max_features"], max_depth=hp.get("max_depth"),
                                   class_weight="balanced", random_state=seed, n_jobs=1)
        m.fit(x, y)
        return export.forest(m, len(classes))
    m = GradientBoostingClassifier(n_estimators=hp["stages"], learning_rate=hp["learning_rate"],
                                   max_depth=hp["max_depth"], random_state=seed)
    m.fit(x, y)
    return export.boosting(m, len(classes))


def train_net(arch, ds, y, train_rows, classes, seed, hp):
    import torch
    from . import models
    torch.manual_seed(seed)
    cls = models.ARCHITECTURES[arch]
    n = ds.spec["packets"]
    kwargs = {k: hp[k] for k in ("width", "dim", "blocks", "hidden") if k in hp}
    net = cls(n, len(classes), **kwargs)
    inputs = cls.inputs
    xs = [torch.from_numpy(ds.arrays[name][train_rows]) for name in inputs]
    yt = torch.from_numpy(y[train_rows])
    counts = np.bincount(y[train_rows], minlength=len(classes)).astype(np.float32)
    weight = torch.from_numpy(np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / len(classes), 0))
    loss_fn = torch.nn.CrossEntropyLoss(weight=weight.float())
    opt = torch.optim.Adam(net.parameters(), lr=hp["lr"])
    g = torch.Generator().manual_seed(seed)
    for epoch in range(hp["epochs"]):
        net.train()
        order = torch.randperm(len(yt), generator=g)
        total = 0.0
        for start in range(0, len(order), hp["batch"]):
            idx = order[start:start + hp["batch"]]
            opt.zero_grad()
            loss = loss_fn(net(*[x[idx] for x in xs]), yt[idx])
            loss.backward()
            opt.step()
            total += float(loss) * len(idx)
        if (epoch + 1) % 10 == 0:
            print(f"epoch {epoch + 1}: loss {total / len(yt):.4f}", file=sys.stderr)
    net.eval()
    return torch.jit.script(net), inputs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="dataset directory (etcpipe extract -o)")
    ap.add_argument("--arch", required=True, choices=sorted(HYPER))
    ap.add_argument("--out", required=True, help="model directory to write")
    ap.add_argument("--min-flows", type=int, default=12,
                    help="classes with fewer flows go to 'other' (default 12)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--test-share", type=float, default=0.3)
    ap.add_argument("--epochs", type=int, help="override the architecture's epochs")
    ap.add_argument("--packets", type=int, help="kforest: packets per flow (default 5)")
    ap.add_argument("--name", help="model name (default: the directory name)")
    ap.add_argument("--min-confidence", type=float, default=0.0,
                    help="model.json's min_confidence: etcpipe classify gives verdicts below this "
                         "class probability the catch-all class 'other' (default 0: none)")
    ap.add_argument("--synthetic-other", type=float, default=0.0, metavar="RATIO",
                    help="tree models: add RATIO x the training flows of synthetic rows labelled "
                         "'other' (each feature drawn on its own from the training flows): a "
                         "catch-all for flows unlike any known class (default 0: none)")
    ap.add_argument("--all", action="store_true",
                    help="train on every flow (no test split; the report is then on training data)")
    args = ap.parse_args(argv)
    if not 0 <= args.min_confidence <= 1:
        ap.error("--min-confidence must be from 0 to 1")
    if args.synthetic_other < 0 or (args.synthetic_other and args.arch not in ("forest", "boosting", "kforest")):
        ap.error("--synthetic-other is a non-negative ratio, for tree models")

    random.seed(args.seed)
    np.random.seed(args.seed)
    ds = data.Dataset(args.data)
    classes = data.class_set(ds.labels, args.min_flows)
    y = data.encode(ds.labels, classes)
    test, by_flow = data.split(ds.labels, ds.captures, args.seed, args.test_share)
    if args.all:
        test[:] = False
    train_rows = np.flatnonzero(~test)
    test_rows = np.flatnonzero(test)
    hp = dict(HYPER[args.arch])
    if args.epochs:
        hp["epochs"] = args.epochs
    if args.packets:
        if args.arch != "kforest":
            ap.error("--packets is for kforest")
        hp["packets"] = args.packets
    packets = hp.get("packets", ds.spec["packets"])
    if packets < 1 or packets > ds.spec["packets"]:
        ap.error(f"--packets must be 1 to the dataset's {ds.spec['packets']}")

    os.makedirs(args.out, exist_ok=True)
    if args.arch in ("forest", "boosting", "kforest"):
        inputs = KERNEL_TREE_INPUTS if args.arch == "kforest" else TREE_INPUTS
        doc = train_trees(args.arch, ds, y, train_rows, classes, args.seed, hp, inputs, packets,
                          args.synthetic_other)
        file, engine = "trees.json", "trees"
        export.save(doc, os.path.join(args.out, file))
        if args.arch == "kforest":
            kdoc = export.kernel(doc, inputs, packets)
            export.save(kdoc, os.path.join(args.out, "kernel.json"))
    else:
        net, inputs = train_net(args.arch, ds, y, train_rows, classes, args.seed, hp)
        file, engine = "model.pt", "torchscript"
        net.save(os.path.join(args.out, file))
    # The spec etcpipe will extract for this model: the dataset's, less the byte matrix
    # when the model does not read it (10 x 1000 bytes per flow saved).
    spec = dict(ds.spec, packets=packets)
    if "matrix" not in inputs:
        spec["matrix"] = False
    if "stats" not in inputs:
        spec["statistics"] = False
    with open(os.path.join(args.out, "spec.json"), "w") as f:
        json.dump(spec, f, indent=1)
    with open(os.path.join(args.out, "labels.json"), "w") as f:
        json.dump({"classes": classes, "other": "other"}, f, indent=1)
    model = {
        "format": "etcpipe-model/1",
        "name": args.name or os.path.basename(os.path.normpath(args.out)),
        "engine": engine, "file": file, "inputs": list(inputs),
        "min_confidence": args.min_confidence,
        # Flows of fewer selected packets than any training flow are out of the model's scope.
        "scope": {"min_packets": ds.min_packets(train_rows, packets)},
        "architecture": args.arch,
        "training": {"data": args.data, "flows": int(len(train_rows)),
                     "test_flows": int(len(test_rows)), "seed": args.seed,
                     "test_share": args.test_share, "min_flows": args.min_flows,
                     "hyperparameters": hp, "synthetic_other": args.synthetic_other,
                     "split_by_flow": by_flow if not args.all else "all"},
    }
    with open(os.path.join(args.out, "model.json"), "w") as f:
        json.dump(model, f, indent=1)

    rows = test_rows if len(test_rows) else train_rows
    p = predict.proba(args.out, ds, rows)
    rep = metrics.report(y[rows], p.argmax(axis=1), classes, by_flow)
    if args.arch == "kforest":
        # The integer form on the same flows: its scores, and how often it agrees.
        q = export.quantize(ds.features(inputs, rows, packets), inputs, packets)
        cls, _ = export.kernel_predict(kdoc, q)
        krep = metrics.report(y[rows], cls, classes, by_flow)
        rep["kernel"] = {"accuracy": krep["accuracy"], "macro_f1": krep["macro_f1"],
                         "agreement": round(float(np.mean(cls == p.argmax(axis=1))), 4)}
    with open(os.path.join(args.out, "report.json"), "w") as f:
        json.dump(rep, f, indent=1)
    print(metrics.text(rep, by_flow))
    if "kernel" in rep:
        k = rep["kernel"]
        print(f"integer form (kernel.json): accuracy {k['accuracy']}, macro-F1 {k['macro_f1']}, "
              f"same class as the float model for {k['agreement']:.1%} of the flows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
