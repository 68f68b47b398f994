#!/usr/bin/env bash
# Builds etcpipe and runs the main job on the bundled sample capture:
# one JSON line per flow on stdout, the run's summary on stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build --target etcpipe
./build/src/etcpipe flows -r data/samples/android.pcap
