#!/usr/bin/env bash
# The traffic lab's standard dataset, its evaluation and the lab model (docs/MODELS.md):
#   bash scripts/lab_models.sh [OUT]          (OUT defaults to build/lab; as root)
# 1. lab/generate: OUT/train (seed 1), OUT/test (seed 2) and OUT/netem (seed 3, a link no
#    training run had: delay 60 ms +-15 ms and 2% loss each way), every class, all with
#    runs of their own (a side whose generation ended, OUT/SIDE/complete, is kept: delete
#    it to generate it again);
# 2. etcpipe extract --labels-csv on each: 5 packets for the tunnel/proxy task, 40 for the
#    application inside a tunnel;
# 3. python3 -m etcpipe_train.lab per task: every architecture and the k-NN baseline trained
#    on the train runs, scored on the test and netem runs (OUT/eval-TASK/report.md).
# With ETCPIPE_UPDATE_LAB=1 the forest of the "all" task (every flow's outer class: tunnels,
# proxies and applications without one), with the median of its open-world thresholds
# (three sets of three classes left out), becomes models/lab,
# the reports go to docs/models/lab-*, and the test runs' sample to data/lab (lab/sample).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-build/lab}
ETCPIPE=build/src/etcpipe
RUNS_TRAIN=${LAB_RUNS_TRAIN:-8} RUNS_TEST=${LAB_RUNS_TEST:-3} RUNS_NETEM=${LAB_RUNS_NETEM:-2}
NETEM="delay 60ms 15ms loss 2%"
[[ -x $ETCPIPE ]] || { cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null && cmake --build build; }
mkdir -p "$OUT"

generate() {  # SIDE generate-options...: once; a side whose generation ended is kept
  local side=$1 rc=0
  shift
  [[ -e $OUT/$side/complete ]] && return 0
  rm -rf "${OUT:?}/$side"
  lab/generate --out "$OUT/$side" --jobs 4 "$@" || rc=$?
  ((rc <= 1)) || exit "$rc"  # 1: a run failed, the others are there (runs.jsonl says which)
  touch "$OUT/$side/complete"
}
start=$SECONDS
generate train --seed 1 --runs-per-class "$RUNS_TRAIN"
generate test --seed 2 --runs-per-class "$RUNS_TEST"
generate netem --seed 3 --runs-per-class "$RUNS_NETEM" --netem "$NETEM"
echo "lab dataset: $((SECONDS - start)) s"

for side in train test netem; do
  $ETCPIPE extract -q -r "$OUT/$side/pcap" --labels-csv "$OUT/$side/labels.csv" \
    --packets 5 --bytes 256 -o "$OUT/ds5-$side"
  $ETCPIPE extract -q -r "$OUT/$side/pcap" --labels-csv "$OUT/$side/labels.csv" \
    --packets 40 --bytes 64 -o "$OUT/ds40-$side"
done

export PYTHONPATH=$PWD/python
evaluate() {  # TASK PACKETS [options]
  local task=$1 n=$2
  shift 2
  /usr/bin/python3 -m etcpipe_train.lab --lab "$OUT/train" "$OUT/test" "$OUT/netem" \
    --train "$OUT/ds$n-train" --test "$OUT/ds$n-test" --test-netem "$OUT/ds$n-netem" \
    --task "$task" --out "$OUT/eval-$task" "$@" > "$OUT/eval-$task.log"
  head -12 "$OUT/eval-$task/report.md"
}
LEFT_OUT="nebula,trojan,obfs4;wireguard,shadowsocks-obfs,openconnect;fastd,v2ray-ws-tls,ssh-socks"
evaluate tunnel 5 --open-world "$LEFT_OUT"
evaluate app 40
evaluate all 5 --archs forest,kforest --open-world "$LEFT_OUT"

if [[ ${ETCPIPE_UPDATE_LAB:-0} == 1 ]]; then
  # The lab model: the "all" task's forest on every training flow, with synthetic "other"
  # rows and the open-world threshold (both as the open-world checks had them), scored on
  # the test and netem runs as etcpipe classify gives its verdicts.
  threshold=$(/usr/bin/python3 -c "
import json, statistics
print(statistics.median(o['threshold'] for o in json.load(open('$OUT/eval-all/report.json'))['open_world']))")
  rm -rf models/lab && mkdir -p models/lab docs/models
  /usr/bin/python3 -m etcpipe_train.train --data "$OUT/eval-all/ds-train" --arch forest --out models/lab \
    --all --min-flows 1 --synthetic-other 1 --min-confidence "$threshold" --name lab > /dev/null
  rm models/lab/report.json  # on its training flows: the test runs are scored below
  sed -i "s|\"data\": \"$OUT/|\"data\": \"|" models/lab/model.json
  for side in test netem; do
    /usr/bin/python3 -m etcpipe_train.eval --model models/lab --data "$OUT/eval-all/ds-$side" --all \
      > "docs/models/lab-model-$side.txt"
    head -1 "docs/models/lab-model-$side.txt"
  done
  for task in tunnel app all; do cp "$OUT/eval-$task/report.md" "docs/models/lab-$task.md"; done
  lab/sample --from "$OUT/test" --out data/lab
fi
