#!/usr/bin/env bash
# Builds etcpipe and runs the main job on the bundled sample capture: every flow classified
# by the bundled model (models/default), one JSON line per flow on stdout, the run's
# summary and the flows per label on stderr. Then turns the bundled samples into a feature
# dataset (build/demo-dataset) and loads it with numpy.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build --target etcpipe
./build/src/etcpipe classify -r data/samples/android.pcap
./build/src/etcpipe extract -r data/samples -o build/demo-dataset --labels-csv data/samples/labels.csv
/usr/bin/python3 -c "
import json, numpy as np
meta = json.load(open('build/demo-dataset/meta.json'))
print('matrix', np.load('build/demo-dataset/matrix.npy').shape, 'classes', meta['classes'])"
