"""Accuracy, macro-F1, per-class precision/recall/F1 and the confusion matrix."""
import numpy as np


def _macro(per_class, keep):
    f1s = [row["f1"] for row in per_class if row["support"] and keep(row["class"])]
    return round(float(np.mean(f1s)), 4) if f1s else None


def report(y_true, y_pred, classes, by_flow=()):
    """The scores; with `by_flow` (classes split by flow, not by capture) also the
    macro-F1 of the capture-disjoint classes and of the others apart."""
    c = len(classes)
    cm = np.zeros((c, c), dtype=np.int64)
    for t, p in zip(y_true, y_pred):
        cm[t, p] += 1
    per_class = []
    f1s = []
    for k in range(c):
        tp = cm[k, k]
        support = int(cm[k].sum())
        predicted = int(cm[:, k].sum())
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class.append({"class": classes[k], "precision": round(float(precision), 4),
                          "recall": round(float(recall), 4), "f1": round(float(f1), 4),
                          "support": support})
        if support:
            f1s.append(f1)  # macro-F1 over the classes present in the test set
    by_flow = set(by_flow)
    return {
        "flows": int(len(y_true)),
        "accuracy": round(float(np.trace(cm) / max(1, cm.sum())), 4),
        "macro_f1": round(float(np.mean(f1s)) if f1s else 0.0, 4),
        "macro_f1_capture_disjoint": _macro(per_class, lambda c: c not in by_flow),
        "macro_f1_split_by_flow": _macro(per_class, lambda c: c in by_flow),
        "split_by_flow": [c for c in classes if c in by_flow],
        "per_class": per_class,
        "confusion": cm.tolist(),
        "classes": list(classes),
    }


def text(rep, by_flow=()):
    lines = [f"flows {rep['flows']}  accuracy {rep['accuracy']:.4f}  macro-F1 {rep['macro_f1']:.4f}"]
    if rep.get("macro_f1_split_by_flow") is not None:
        lines.append(f"macro-F1 of the capture-disjoint classes {rep['macro_f1_capture_disjoint']}, "
                     f"of the classes split by flow {rep['macro_f1_split_by_flow']}")
    lines += ["", f"{'class':24}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>9}"]
    for row in rep["per_class"]:
        mark = " (split by flow)" if row["class"] in by_flow else ""
        lines.append(f"{row['class']:24}{row['precision']:10.3f}{row['recall']:10.3f}"
                     f"{row['f1']:10.3f}{row['support']:9d}{mark}")
    lines += ["", "confusion matrix (rows: true, columns: predicted, in class order)"]
    width = max(4, max(len(str(v)) for r in rep["confusion"] for v in r) + 1)
    for name, row in zip(rep["classes"], rep["confusion"]):
        lines.append(f"{name[:16]:16}" + "".join(f"{v:>{width}}" for v in row))
    return "\n".join(lines)


def plot(rep, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    cm = np.asarray(rep["confusion"], dtype=float)
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    n = len(rep["classes"])
    fig, ax = plt.subplots(figsize=(2 + 0.45 * n, 1.5 + 0.45 * n))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), rep["classes"], rotation=90, fontsize=8)
    ax.set_yticks(range(n), rep["classes"], fontsize=8)
    for i in range(n):
        for j in range(n):
            if cm[i, j]:
                ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if norm[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"accuracy {rep['accuracy']:.3f}, macro-F1 {rep['macro_f1']:.3f}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
