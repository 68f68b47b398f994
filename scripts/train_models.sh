#!/usr/bin/env bash
# Trains and evaluates every architecture on the shared nDPI captures (docs/MODELS.md):
#   bash scripts/train_models.sh [OUT]        (OUT defaults to build/models)
# With ETCPIPE_UPDATE_DEFAULT=1 the forest is also copied to models/default, the bundled
# model, with its report in docs/models/, and the kforest to models/kernel, both with the
# declared scope of 3 packets (docs/MODELS.md, "Default model").
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-build/models}
SHARED=../shared/data/ndpi
ETCPIPE=build/src/etcpipe
[[ -x $ETCPIPE ]] || { cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null && cmake --build build; }
mkdir -p "$OUT"
# Encrypted flows (nDPI's [Encrypted] flag), the application part of nDPI's label, at least
# two packets each way.
labels=(--labels-ndpi "$SHARED/result" --encrypted-only --min-packets-each-way 2)
$ETCPIPE extract -q -r "$SHARED/pcap" -o "$OUT/ds-etcpipe" --preset etcpipe "${labels[@]}"
$ETCPIPE extract -q -r "$SHARED/pcap" -o "$OUT/ds-nepco" --preset nepco "${labels[@]}"
export PYTHONPATH=$PWD/python
for arch in forest boosting kforest seq cnn nepco; do
  ds=$OUT/ds-etcpipe
  [[ $arch == nepco ]] && ds=$OUT/ds-nepco
  echo "== $arch"
  /usr/bin/python3 -m etcpipe_train.train --data "$ds" --arch "$arch" --out "$OUT/$arch" > "$OUT/$arch.train.log"
  /usr/bin/python3 -m etcpipe_train.eval --model "$OUT/$arch" --data "$ds" --out "$OUT/$arch/eval" | head -1
done
if [[ ${ETCPIPE_UPDATE_DEFAULT:-0} == 1 ]]; then
  rm -rf models/default && mkdir -p models/default docs/models
  cp "$OUT"/forest/{model.json,labels.json,spec.json,trees.json} models/default/
  sed -i "s|\"name\": \"forest\"|\"name\": \"default\"|; s|\"data\": \"$OUT/|\"data\": \"|" models/default/model.json
  cp "$OUT/forest/eval/report.txt" docs/models/default-report.txt
  cp "$OUT/forest/eval/confusion.png" docs/models/default-confusion.png
  # The in-kernel model (classify --in-kernel): the kforest, with its integer form.
  rm -rf models/kernel && mkdir -p models/kernel
  cp "$OUT"/kforest/{model.json,labels.json,spec.json,trees.json,kernel.json} models/kernel/
  sed -i "s|\"name\": \"kforest\"|\"name\": \"kernel\"|; s|\"data\": \"$OUT/|\"data\": \"|" models/kernel/model.json
  # nDPI's flows of two packets each way are, for etcpipe's selection, mostly 3 or more
  # payload packets: fewer (a DNS query and its answer) is out of these models' scope.
  sed -i 's|"min_packets": [0-9]*|"min_packets": 3|' models/default/model.json models/kernel/model.json
fi
