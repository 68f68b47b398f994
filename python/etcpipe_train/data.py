"""Datasets written by `etcpipe extract`, the class set of a model, and the split."""
import csv
import hashlib
import json
import os

import numpy as np

ARRAYS = ("matrix", "sizes", "iats", "flags", "payloads", "stats")


class Dataset:
    """The arrays of a dataset directory, its flows (flows.csv) and its labels."""

    def __init__(self, path):
        self.path = path
        with open(os.path.join(path, "meta.json")) as f:
            self.meta = json.load(f)
        with open(os.path.join(path, "spec.json")) as f:
            self.spec = json.load(f)
        self.arrays = {}
        for name in ARRAYS:
            p = os.path.join(path, name + ".npy")
            if os.path.exists(p):
                self.arrays[name] = np.load(p)
        with open(os.path.join(path, "flows.csv")) as f:
            self.flows = list(csv.DictReader(f))
        self.labels = [row["label"] for row in self.flows]
        self.captures = [os.path.basename(row["capture"]) for row in self.flows]

    def __len__(self):
        return len(self.flows)

    def features(self, inputs, rows=None, packets=None):
        """The feature vector of the tree engine: the inputs, flattened, as float32,
        concatenated in order (feature_vector() in src/infer/model.cpp); with `packets`,
        the per-packet inputs of the first `packets` packets only (a model of a shorter
        spec than the dataset's)."""
        parts = []
        for name in inputs:
            a = self.arrays[name]
            a = a if rows is None else a[rows]
            if packets is not None and name != "stats":
                a = a[:, :packets]
            parts.append(a.reshape(len(a), -1).astype(np.float32))
        return np.concatenate(parts, axis=1)

    def selected(self, rows, packets):
        """The selected packets of each of `rows` among its first `packets` (the nonzero
        entries of sizes), or None for a dataset without sizes."""
        if "sizes" not in self.arrays:
            return None
        return np.count_nonzero(self.arrays["sizes"][rows, :packets], axis=1)

    def min_packets(self, rows, packets):
        """The fewest selected packets any of `rows` has among its first `packets` (without
        sizes, the all_packets statistic meta.json names; else 1): the scope of a model
        trained on them."""
        selected = self.selected(rows, packets)
        if selected is not None:
            return int(selected.min())
        names = self.meta.get("stat_names", [])
        if "stats" in self.arrays and "all_packets" in names:
            fewest = self.arrays["stats"][rows, names.index("all_packets")].min()
            return int(min(fewest, packets))
        return 1


def class_set(labels, min_flows, other="other"):
    """Classes with at least `min_flows` flows, sorted, then the catch-all `other`."""
    counts = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    kept = sorted(c for c, n in counts.items() if n >= min_flows and c != other)
    return kept + [other]


def encode(labels, classes, other="other"):
    index = {c: i for i, c in enumerate(classes)}
    return np.array([index.get(label, index[other]) for label in labels], dtype=np.int64)


def _rank(seed, text):
    return hashlib.sha256(f"{seed}:{text}".encode()).hexdigest()


def split(labels, captures, seed=1, test_share=0.3):
    """Train/test split, by capture wherever a label spans several captures.

    For each label (the dataset's own labels, before classes are merged into "other"):
    seen in several captures, whole captures go to the test side (in a seeded order) until
    about `test_share` of its flows are there, keeping at least one capture for training;
    seen in one capture only, its flows are split at random (seeded). Returns the boolean
    test mask and the labels that could only be split by flow.
    """
    labels = list(labels)
    test = np.zeros(len(labels), dtype=bool)
    by_flow = []
    for label in sorted(set(labels)):
        idx = [i for i, lab in enumerate(labels) if lab == label]
        caps = sorted({captures[i] for i in idx}, key=lambda c: _rank(seed, label + c))
        if len(caps) >= 2:
            chosen, taken = set(), 0
            for c in caps[:-1]:
                if taken >= test_share * len(idx):
                    break
                chosen.add(c)
                taken += sum(1 for i in idx if captures[i] == c)
            for i in idx:
                test[i] = captures[i] in chosen
        else:
            by_flow.append(label)
            order = sorted(idx, key=lambda i: _rank(seed, f"{label}/{i}"))
            n_test = int(round(test_share * len(idx))) if len(idx) >= 2 else 0
            for i in order[:n_test]:
                test[i] = True
    return test, by_flow
