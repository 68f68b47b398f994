"""scikit-learn tree ensembles to etcpipe's file format (docs/MODELS.md, src/infer/tree_engine.hpp)."""
import json
import math

import numpy as np


def _tree(t, values):
    """One tree: arrays in scikit-learn's node order; values only for leaves."""
    leaf = t.children_left < 0
    return {
        "feature": [int(f) if not l else -1 for f, l in zip(t.feature, leaf)],
        "threshold": [float(x) if not l else 0.0 for x, l in zip(t.threshold, leaf)],
        "left": [int(x) if not l else -1 for x, l in zip(t.children_left, leaf)],
        "right": [int(x) if not l else -1 for x, l in zip(t.children_right, leaf)],
        "value": [[float(v) for v in values[i]] if leaf[i] else [] for i in range(len(leaf))],
    }


def forest(model, classes):
    """A RandomForestClassifier trained on class indices out of `classes`: each leaf holds
    its class distribution (classes absent from training get 0)."""
    trees = []
    for est in model.estimators_:
        v = est.tree_.value[:, 0, :]
        v = v / np.maximum(v.sum(axis=1, keepdims=True), 1e-12)
        full = np.zeros((len(v), classes))
        full[:, model.classes_.astype(int)] = v
        trees.append(_tree(est.tree_, full))
    return {"format": "etcpipe-trees/1", "kind": "forest", "features": int(model.n_features_in_),
            "classes": classes, "trees": trees}


def boosting(model, classes):
    """A GradientBoostingClassifier (multiclass, log loss) trained on class indices out of
    `classes`, 3 or more of them: each tree adds learning_rate * leaf value to the score of
    its class; classes absent from training get a score that keeps their probability at 0."""
    if int(model.n_classes_) < 3:
        raise ValueError("gradient boosting needs 3 classes or more in the training set")
    trained = model.classes_.astype(int)
    init = np.full(classes, ABSENT_SCORE)
    init[trained] = model._raw_predict_init(np.zeros((1, model.n_features_in_), dtype=np.float32))[0]
    trees = []
    for stage in model.estimators_:
        for k, est in enumerate(stage):
            raw = est.tree_.value[:, 0, 0] * model.learning_rate
            v = np.zeros((len(raw), classes))
            v[:, trained[k]] = raw
            trees.append(_tree(est.tree_, v))
    return {"format": "etcpipe-trees/1", "kind": "boosting", "features": int(model.n_features_in_),
            "classes": classes, "init": [float(x) for x in init], "trees": trees}


ABSENT_SCORE = -50.0  # e^-50: no probability, and no overflow in float32 softmax


def save(doc, path):
    with open(path, "w") as f:
        json.dump(doc, f, separators=(",", ":"))


# The integer form of a forest for etcpipe's XDP classifier (docs/MODELS.md, "Classifying in
# the kernel"; src/capture/bpf/etcpipe_xdp.h). The kernel keeps, per flow, the first
# `packets` selected packets' values as 32-bit integers: sizes (IP bytes, negative from the
# server, as the rows' sizes), iats in microseconds (floor; the rows hold float seconds),
# flags and payloads as they are. A node goes left when value <= its integer threshold:
# floor(t) for integer inputs (the same test for integers), floor(t * 1e6) for iats. A leaf
# holds each class's probability times 65535, rounded; a flow's class is the one with the
# largest sum over the trees (the lowest index on a tie), its confidence that sum / trees /
# 65535.
KERNEL_INPUTS = ("sizes", "iats", "flags", "payloads")
KERNEL_SCORE = 65535
_INT32 = (-(2 ** 31), 2 ** 31 - 1)


def _clamp32(v):
    return int(min(max(v, _INT32[0]), _INT32[1]))


def quantize(x, inputs, packets):
    """Float feature vectors [n, len(inputs) * packets] (Dataset.features) to the kernel's
    integers."""
    q = np.empty(x.shape, dtype=np.int64)
    for j, name in enumerate(inputs):
        part = x[:, j * packets:(j + 1) * packets].astype(np.float64)
        q[:, j * packets:(j + 1) * packets] = np.floor(part * 1e6 if name == "iats" else part)
    return np.clip(q, *_INT32)


def kernel(doc, inputs, packets):
    """The integer model of a forest over per-packet `inputs` of `packets` packets."""
    if doc["kind"] != "forest":
        raise ValueError("only forests run in the kernel")
    for name in inputs:
        if name not in KERNEL_INPUTS:
            raise ValueError(f"input {name} is not kept in the kernel (only {', '.join(KERNEL_INPUTS)})")
    if doc["features"] != len(inputs) * packets:
        raise ValueError("the forest's features are not the inputs of the packets")
    trees = []
    for t in doc["trees"]:
        feature, threshold = t["feature"], t["threshold"]
        trees.append({
            "feature": feature,
            "threshold": [0 if f < 0 else _clamp32(math.floor(th * 1e6 if inputs[f // packets] == "iats" else th))
                          for f, th in zip(feature, threshold)],
            "left": t["left"], "right": t["right"],
            "score": [[int(math.floor(v * KERNEL_SCORE + 0.5)) for v in val] if f < 0 else []
                      for f, val in zip(feature, t["value"])],
        })
    return {"format": "etcpipe-kernel-trees/1", "packets": packets, "inputs": list(inputs),
            "classes": doc["classes"], "trees": trees}


def kernel_predict(kdoc, q):
    """Classes and confidences of quantized feature vectors, as the kernel computes them."""
    n, classes = len(q), kdoc["classes"]
    sums = np.zeros((n, classes), dtype=np.int64)
    for t in kdoc["trees"]:
        feature, threshold, left, right, score = t["feature"], t["threshold"], t["left"], t["right"], t["score"]
        for r in range(n):
            i = 0
            while feature[i] >= 0:
                i = left[i] if q[r, feature[i]] <= threshold[i] else right[i]
            sums[r] += score[i]
    cls = sums.argmax(axis=1)  # the first of equal maxima, as the kernel
    return cls, sums.max(axis=1) / (len(kdoc["trees"]) * KERNEL_SCORE)
