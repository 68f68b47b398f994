"""A test model for the enforcement test and benchmark (tests/integration/enforce_test.py,
scripts/bench_xdp.py): two classes, one tree. A flow whose server sent a packet over 600
bytes (bwd_size_max, statistic 24) among its first 4 is "bulk", any other "chat"."""
import json
import os


def write_model(directory, source):
    """Writes the model into `directory`; `source`: the checkout (for the default spec)."""
    def dump(name, obj):
        with open(os.path.join(directory, name), "w") as f:
            json.dump(obj, f)
    with open(os.path.join(source, "models", "default", "spec.json")) as f:
        spec = json.load(f)
    spec["packets"] = 4
    dump("spec.json", spec)
    dump("model.json", {"format": "etcpipe-model/1", "name": "bulk-or-chat", "engine": "trees",
                        "file": "trees.json", "inputs": ["stats", "sizes", "iats"],
                        "architecture": "forest"})
    dump("labels.json", {"classes": ["bulk", "chat"], "other": "chat"})
    tree = {"feature": [24, -1, -1], "threshold": [600.0, 0, 0], "left": [1, -1, -1],
            "right": [2, -1, -1], "value": [[], [0.0, 1.0], [1.0, 0.0]]}
    dump("trees.json", {"format": "etcpipe-trees/1", "kind": "forest", "features": 39 + 2 * 4,
                        "classes": 2, "trees": [tree]})
