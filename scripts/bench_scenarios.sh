#!/usr/bin/env bash
# The flow-offload study's scenarios: 10K to 20M active flows, 10% of them new each second,
# 64- and 1000-byte packets, 1 and 2 workers. One JSON line per run on stdout.
#   scripts/bench_scenarios.sh [PACKETS] > results.jsonl
set -euo pipefail
cd "$(dirname "$0")/.."
PACKETS=${1:-10000000}
for flows in 10000 100000 1000000 10000000 20000000; do
  for size in 64 1000; do
    for workers in 1 2; do
      ./build/src/etcpipe bench --flows "$flows" --new-flows-per-sec $((flows / 10)) \
        --packet-size "$size" --packets "$PACKETS" --rate 10000000 --workers "$workers" --json \
        2>/dev/null
    done
  done
done
