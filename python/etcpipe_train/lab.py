"""Evaluation on traffic-lab datasets (lab/README.md): run-disjoint, per task.

    python3 -m etcpipe_train.lab --lab TRAIN_LAB --train DS --test DS [--test-netem DS]
        --task tunnel|app|all --out DIR [--archs forest,kforest,...] [--open-world A,B,C[;D,E,F]]

TRAIN, TEST and TEST-NETEM are `etcpipe extract --labels-csv` datasets of different lab
outputs (other seeds; the netem one with a --netem link no training run had), so no run,
hence no flow, is on both sides. The task picks the flows and their labels out of the lab's
class names (an app carried by a tunnel is "TUNNEL+APP"): tunnel, the tunnel or proxy of
every flow that went through one (the app inside it ignored); app, the application inside a
tunnel; all, every flow's outer class (tunnels, proxies and the applications without one).

Writes DIR/report.json and DIR/report.md: per architecture (and the k-nearest-neighbours
baseline on sizes, directions and times) accuracy, macro-F1 and per-class scores on the test
runs and on the netem runs, accuracy against the number of packets, the payload model
against the same model on shuffled labels, and the open world (classes left out of
training, scored as the catch-all below a confidence threshold chosen on training runs).
"""
import argparse
import csv
import json
import os
import shutil
import sys

import numpy as np

from . import data, metrics, predict, train
from . import eval as eval_

FAMILIES = {"tunnel": ("vpn", "proxy", "vpn+app"), "app": ("vpn+app",), "all": None}


def families(lab_dirs):
    """Class name -> family, from the lab outputs' runs.jsonl."""
    out = {}
    for d in lab_dirs:
        with open(os.path.join(d, "runs.jsonl")) as f:
            for line in f:
                run = json.loads(line)
                out[run["class"]] = run["family"]
    return out


def task_label(task, label, family):
    """The flow's label in the task, or None when the flow is not the task's (or is none
    of the lab's: unlabelled)."""
    if family is None or (FAMILIES[task] is not None and family not in FAMILIES[task]):
        return None
    outer, _, inner = label.partition("+")
    return inner if task == "app" else outer


def derive(src, dst, task, fam, drop=(), shuffle_seed=None):
    """A dataset directory holding the task's flows of `src`, relabelled (classes in `drop`
    left out; with `shuffle_seed`, labels permuted at random)."""
    ds = data.Dataset(src)
    rows, labels = [], []
    for i, label in enumerate(ds.labels):
        t = task_label(task, label, fam.get(label))
        if t is not None and t not in drop:
            rows.append(i)
            labels.append(t)
    if shuffle_seed is not None:
        labels = list(np.random.default_rng(shuffle_seed).permutation(labels))
    return subset(ds, dst, rows, labels)


def subset(ds, dst, rows, labels=None):
    """A dataset directory holding rows `rows` of dataset `ds` (with `labels`, relabelled)."""
    if os.path.exists(dst):
        shutil.rmtree(dst)
    os.makedirs(dst)
    for name in ("meta.json", "spec.json"):
        shutil.copy(os.path.join(ds.path, name), dst)
    for name, a in ds.arrays.items():
        np.save(os.path.join(dst, name + ".npy"), a[rows])
    with open(os.path.join(dst, "flows.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(ds.flows[0].keys()))
        w.writeheader()
        for j, i in enumerate(rows):
            w.writerow(ds.flows[i] if labels is None else dict(ds.flows[i], label=labels[j]))
    return dst


def score(model_dir, ds_dir, min_confidence=None):
    """The model's report on every flow of `ds_dir`, as etcpipe classify gives its verdicts
    (eval.verdicts; the lab's flows are all within the models' scope)."""
    _, labels = predict.load_model(model_dir)
    ds = data.Dataset(ds_dir)
    rows = np.arange(len(ds))
    pred, p, in_scope = eval_.verdicts(model_dir, ds, rows, min_confidence)
    y = data.encode(ds.labels, labels["classes"], labels["other"])
    return metrics.report(y[in_scope], pred[in_scope], labels["classes"]), p


def knn_features(ds, packets):
    s = ds.arrays["sizes"][:, :packets].astype(np.float32) / 1500.0
    t = np.log1p(np.clip(ds.arrays["iats"][:, :packets].astype(np.float32), 0, None) * 1000.0)
    return np.concatenate([s, t], axis=1)


def knn(train_dir, test_dir, packets, k=5):
    """The baseline: k nearest neighbours (distance-weighted, standardized features) on the
    signed sizes and log inter-arrival times of the first `packets` packets."""
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.preprocessing import StandardScaler
    tr, te = data.Dataset(train_dir), data.Dataset(test_dir)
    classes = data.class_set(tr.labels, 1)
    scale = StandardScaler().fit(knn_features(tr, packets))
    m = KNeighborsClassifier(n_neighbors=k, weights="distance")
    m.fit(scale.transform(knn_features(tr, packets)), data.encode(tr.labels, classes))
    pred = m.predict(scale.transform(knn_features(te, packets)))
    return metrics.report(data.encode(te.labels, classes), pred, classes)


def fit(arch, ds_dir, out, *options):
    argv = ["--data", ds_dir, "--arch", arch, "--out", out, "--all", "--min-flows", "1", *options]
    with open(os.devnull, "w") as quiet:
        saved, sys.stdout = sys.stdout, quiet
        try:
            train.main(argv)
        finally:
            sys.stdout = saved
    return out


def threshold(model_dir, val_dir, keep=0.95):
    """The highest confidence threshold (in steps of 0.05) that keeps `keep` of the
    known classes' accuracy on `val_dir` (training runs the model did not learn from)."""
    base, p = score(model_dir, val_dir)
    conf = p.max(axis=1)
    correct = p.argmax(axis=1) == data.encode(data.Dataset(val_dir).labels, base["classes"])
    best = 0.0
    for t in np.arange(0.05, 1.0, 0.05):
        if (correct & (conf >= t)).mean() >= keep * correct.mean():
            best = round(float(t), 2)
    return best


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lab", required=True, nargs="+", help="the lab output directories (runs.jsonl)")
    ap.add_argument("--train", required=True)
    ap.add_argument("--test", required=True)
    ap.add_argument("--test-netem", help="test runs under a --netem link absent from training")
    ap.add_argument("--task", required=True, choices=sorted(FAMILIES))
    ap.add_argument("--out", required=True)
    ap.add_argument("--archs", default="forest,kforest,boosting,seq,cnn,nepco")
    ap.add_argument("--payload-arch", default="cnn", help="the payload model of the shuffled-label check")
    ap.add_argument("--open-world", metavar="A,B,C[;D,E,F...]",
                    help="classes left out of training, one set after another (open-world check)")
    ap.add_argument("--synthetic-other", type=float, default=1.0,
                    help="the open-world forest's synthetic 'other' rows, per training flow (train.py)")
    ap.add_argument("--curve-arch", default="kforest", choices=["kforest"],
                    help="the architecture of accuracy against packets (train.py --packets)")
    ap.add_argument("--epochs", type=int, help="override the neural architectures' epochs")
    args = ap.parse_args(argv)

    fam = families(args.lab)
    os.makedirs(args.out, exist_ok=True)
    d = lambda name: os.path.join(args.out, name)  # noqa: E731
    tr = derive(args.train, d("ds-train"), args.task, fam)
    tests = {"test": derive(args.test, d("ds-test"), args.task, fam)}
    if args.test_netem:
        tests["netem"] = derive(args.test_netem, d("ds-netem"), args.task, fam)
    sets = [group.split(",") for group in args.open_world.split(";")] if args.open_world else []
    unknown = {c for group in sets for c in group} - set(data.Dataset(tr).labels)
    if unknown:
        ap.error(f"--open-world: {', '.join(sorted(unknown))} not among the task's training classes")
    n = data.Dataset(tr).spec["packets"]
    rep = {"task": args.task, "packets": n, "train_flows": len(data.Dataset(tr)),
           "test_flows": {k: len(data.Dataset(v)) for k, v in tests.items()}, "models": {}}

    for arch in args.archs.split(","):
        if arch in ("cnn", "nepco", "seq") and args.epochs:
            train.HYPER[arch]["epochs"] = args.epochs
        m = fit(arch, tr, d(f"model-{arch}"))
        rep["models"][arch] = {k: score(m, v)[0] for k, v in tests.items()}
        print(f"{arch}: " + ", ".join(f"{k} macro-F1 {r['macro_f1']}" for k, r in rep["models"][arch].items()),
              file=sys.stderr)
    rep["models"]["knn"] = {k: knn(tr, v, n) for k, v in tests.items()}

    if args.payload_arch in args.archs.split(","):
        shuffled = derive(args.train, d("ds-shuffled"), args.task, fam, shuffle_seed=1)
        m = fit(args.payload_arch, shuffled, d("model-shuffled"))
        rep["shuffled"] = {"arch": args.payload_arch, "test": score(m, tests["test"])[0]}

    rep["curve"], rep["curve_arch"] = [], args.curve_arch
    for k in sorted(set(range(1, min(n, 10) + 1)) | set(range(10, n + 1, 5)) | {n}):
        m = fit(args.curve_arch, tr, d("model-curve"), "--packets", str(k))
        r = score(m, tests["test"])[0]
        rep["curve"].append({"packets": k, "accuracy": r["accuracy"], "macro_f1": r["macro_f1"]})

    rep["open_world"] = [open_world(left, args, fam, tests, d) for left in sets]

    with open(d("report.json"), "w") as f:
        json.dump(rep, f, indent=1)
    with open(d("report.md"), "w") as f:
        f.write(markdown(rep))
    print(markdown(rep))
    return 0


def open_world(left, args, fam, tests, d):
    """Classes `left` left out of training: a forest with synthetic "other" rows and the
    threshold that training runs alone give, scored on the test sides (where the left-out
    classes' flows should come out "other")."""
    known = derive(args.train, d("ds-known"), args.task, fam, drop=left)
    # The threshold: a model on 70% of the known classes' training runs, scored on the rest.
    ds_known = data.Dataset(known)
    val, _ = data.split(ds_known.labels, ds_known.captures, seed=1, test_share=0.3)
    part = {side: subset(ds_known, d(f"ds-known-{side}"), np.flatnonzero(mask))
            for side, mask in (("fit", ~val), ("val", val))}
    synthetic = ("--synthetic-other", str(args.synthetic_other))
    t = threshold(fit("forest", part["fit"], d("model-known-fit"), *synthetic), part["val"])
    m = fit("forest", known, d("model-known"), *synthetic)
    ow = {"left_out": left, "threshold": t, "synthetic_other": args.synthetic_other}
    for name, ds_dir in tests.items():
        r0, _ = score(m, ds_dir)
        r, _ = score(m, ds_dir, t)
        other = next(row for row in r["per_class"] if row["class"] == "other")
        known_f1 = [row["f1"] for row in r["per_class"] if row["class"] != "other" and row["support"]]
        known_f1_0 = [row["f1"] for row in r0["per_class"] if row["class"] != "other" and row["support"]]
        ow[name] = {"unknown_recall": other["recall"], "unknown_flows": other["support"],
                    "known_macro_f1": round(float(np.mean(known_f1)), 4),
                    "known_macro_f1_without_threshold": round(float(np.mean(known_f1_0)), 4),
                    "report": r}
    return ow


def per_class_table(r):
    lines = ["| class | precision | recall | F1 | flows |", "| --- | ---: | ---: | ---: | ---: |"]
    for row in r["per_class"]:
        if row["support"] or row["precision"]:
            lines.append(f"| {row['class']} | {row['precision']:.3f} | {row['recall']:.3f} | "
                         f"{row['f1']:.3f} | {row['support']} |")
    return "\n".join(lines)


def markdown(rep):
    tests = list(rep["test_flows"])
    out = [f"# Traffic lab, task `{rep['task']}`", "",
           "Written by `python3 -m etcpipe_train.lab` (`scripts/lab_models.sh`; docs/MODELS.md, "
           "\"Lab model\").", "",
           f"Task `{rep['task']}`: {rep['train_flows']} training flows; test flows "
           + ", ".join(f"{k} {v}" for k, v in rep["test_flows"].items()) + f"; {rep['packets']} packets per flow.", "",
           "| model | " + " | ".join(f"{k} accuracy | {k} macro-F1" for k in tests) + " |",
           "| --- | " + " | ".join("---: | ---:" for _ in tests) + " |"]
    for arch, by in rep["models"].items():
        out.append(f"| {arch} | " + " | ".join(f"{by[k]['accuracy']:.3f} | {by[k]['macro_f1']:.3f}"
                                                for k in tests) + " |")
    if "shuffled" in rep:
        s = rep["shuffled"]
        out += ["", f"{s['arch']} trained on shuffled labels: test accuracy {s['test']['accuracy']:.3f}, "
                f"macro-F1 {s['test']['macro_f1']:.3f}."]
    out += ["", f"Accuracy against the packets the model reads (first k; {rep['curve_arch']} on the "
            "test runs):", "", "| packets | accuracy | macro-F1 |", "| ---: | ---: | ---: |"]
    out += [f"| {c['packets']} | {c['accuracy']:.3f} | {c['macro_f1']:.3f} |" for c in rep["curve"]]
    for ow in rep.get("open_world", []):
        out += ["", f"Open world: {', '.join(ow['left_out'])} left out of training; forest with "
                f"{ow['synthetic_other']} synthetic `other` row per training flow and min_confidence "
                f"{ow['threshold']} (chosen on training runs):", ""]
        for k in tests:
            o = ow[k]
            # The same known classes, scored by the forest trained on every class.
            full = [row["f1"] for row in rep["models"]["forest"][k]["per_class"]
                    if row["support"] and row["class"] not in ow["left_out"] + ["other"]]
            out.append(f"- {k}: unknown flows scored as `other`: recall {o['unknown_recall']:.3f} of "
                       f"{o['unknown_flows']}; known classes' macro-F1 {o['known_macro_f1']:.3f} "
                       f"({o['known_macro_f1_without_threshold']:.3f} without the threshold; "
                       f"{np.mean(full):.3f} for the forest trained on every class)")
    for arch, by in rep["models"].items():
        for k in tests:
            out += ["", f"### {arch}, {k} runs (accuracy {by[k]['accuracy']:.3f}, macro-F1 "
                    f"{by[k]['macro_f1']:.3f})", "", per_class_table(by[k])]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())
