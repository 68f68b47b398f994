"""Class probabilities from a model directory, in Python: the reference the C++ engines
are tested against, and what the evaluation uses."""
import json
import os

import numpy as np


def load_model(path):
    with open(os.path.join(path, "model.json")) as f:
        model = json.load(f)
    with open(os.path.join(path, "labels.json")) as f:
        labels = json.load(f)
    return model, labels


def _trees_proba(doc, x):
    x = x.astype(np.float32)
    n, classes = len(x), doc["classes"]
    out = np.zeros((n, classes), dtype=np.float64)
    if doc["kind"] == "boosting":
        out += np.asarray(doc["init"], dtype=np.float64)
    for tree in doc["trees"]:
        feature, threshold = tree["feature"], tree["threshold"]
        left, right, value = tree["left"], tree["right"], tree["value"]
        for r in range(n):
            i = 0
            while feature[i] >= 0:
                i = left[i] if float(x[r, feature[i]]) <= threshold[i] else right[i]
            out[r] += value[i]
    if doc["kind"] == "boosting":
        out = np.exp(out - out.max(axis=1, keepdims=True))
        return out / out.sum(axis=1, keepdims=True)
    return out / len(doc["trees"])


def proba(path, dataset, rows=None, batch=256):
    """Probabilities [F, classes] of the dataset's flows (all, or `rows`)."""
    model, _ = load_model(path)
    file = os.path.join(path, model["file"])
    if model["engine"] == "trees":
        with open(file) as f:
            doc = json.load(f)
        with open(os.path.join(path, "spec.json")) as f:
            packets = json.load(f)["packets"]
        return _trees_proba(doc, dataset.features(model["inputs"], rows, packets))
    import torch
    net = torch.jit.load(file)
    net.eval()
    arrays = [dataset.arrays[name] if rows is None else dataset.arrays[name][rows]
              for name in model["inputs"]]
    out = []
    with torch.no_grad():
        for start in range(0, len(arrays[0]), batch):
            xs = [torch.from_numpy(np.ascontiguousarray(a[start:start + batch])) for a in arrays]
            out.append(torch.softmax(net(*xs).float(), dim=1).numpy())
    return np.concatenate(out) if out else np.zeros((0, 0))
