"""scikit-learn tree ensembles to etcpipe's file format (docs/MODELS.md, src/infer/tree_engine.hpp)."""
import json

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
    """A GradientBoostingClassifier (multiclass, log loss) trained on every one of the
    `classes`: each tree adds learning_rate * leaf value to the score of its class."""
    if int(model.n_classes_) != classes or classes < 3:
        raise ValueError("gradient boosting needs 3 classes or more, all in the training set")
    init = model._raw_predict_init(np.zeros((1, model.n_features_in_), dtype=np.float32))[0]
    trees = []
    for stage in model.estimators_:
        for k, est in enumerate(stage):
            raw = est.tree_.value[:, 0, 0] * model.learning_rate
            v = np.zeros((len(raw), classes))
            v[:, k] = raw
            trees.append(_tree(est.tree_, v))
    return {"format": "etcpipe-trees/1", "kind": "boosting", "features": int(model.n_features_in_),
            "classes": classes, "init": [float(x) for x in init], "trees": trees}


def save(doc, path):
    with open(path, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
