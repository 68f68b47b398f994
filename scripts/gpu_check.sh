#!/usr/bin/env bash
# The GPU check: builds etcpipe with the CUDA batch extractor and, against the CUDA libtorch
# of the machine's PyTorch, the TorchScript engine; runs the GPU tests and the GPU
# benchmarks; writes the figures to REPORT (default: gpu_check.md in the current directory).
#
#   scripts/gpu_check.sh --prepare   on a Debian 12 machine with apt: puts the Debian packages
#                                    the build needs, unpacked, and the shared captures under
#                                    .gpu-deps/ (for a GPU machine that reaches no registry)
#   scripts/gpu_check.sh [REPORT]    on the machine with the GPU (or anywhere: each part that
#                                    cannot run there says SKIPPED and why)
#
# Where .gpu-deps/root exists, the build finds its libraries and headers there; otherwise it
# uses the system's. PyTorch is the python3 on PATH (its torch.utils.cmake_prefix_path); without
# it, Debian's CPU-only libtorch. ETCPIPE_GPU_CHECK_JOBS sets the build's parallelism.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEPS=$ROOT/.gpu-deps

if [[ ${1:-} == --prepare ]]; then
  set -e
  # The build's libraries (their -dev packages and the runtime libraries those link to that a
  # CUDA image may lack). libthrust-dev goes to a root of its own so that its headers never
  # shadow the CUDA toolkit's Thrust in the .cu files.
  common=(libpcap0.8-dev libpcap-dev libpcap0.8 libdbus-1-3 libdbus-1-dev libibverbs1 libnl-3-200 libnl-route-3-200
    libsqlite3-dev libsqlite3-0 libfmt-dev libfmt9 libcli11-dev nlohmann-json3-dev
    libreaderwriterqueue-dev libcpp-httplib-dev libcpp-httplib0.11 libbrotli1 libbrotli-dev libssl3 libssl-dev zlib1g-dev
    libgtest-dev googletest libbenchmark-dev libbenchmark1debian)
  thrust=(libthrust-dev libcub-dev)
  rm -rf "$DEPS"
  mkdir -p "$DEPS/debs" "$DEPS/root" "$DEPS/thrust"
  (cd "$DEPS/debs" && apt-get download "${common[@]}" "${thrust[@]}" > /dev/null)
  for p in "${common[@]}"; do dpkg-deb -x "$DEPS"/debs/"${p}"_*.deb "$DEPS/root"; done
  for p in "${thrust[@]}"; do dpkg-deb -x "$DEPS"/debs/"${p}"_*.deb "$DEPS/thrust"; done
  # What the build does not use (sources, static copies of shared libraries): the tree travels
  # to the GPU machine, 64 MiB at most with the repository.
  rm -rf "$DEPS/debs" "$DEPS"/root/usr/share/{doc,man} "$DEPS"/{root,thrust}/usr/share/doc \
    "$DEPS/root/usr/src" "$DEPS"/root/usr/lib/x86_64-linux-gnu/lib{pcap,sqlite3,fmt,ssl,crypto,z,dbus-1,brotli*}.a
  if [[ -d $ROOT/../shared/data/ndpi/pcap ]]; then
    mkdir -p "$DEPS/shared/data/ndpi"
    cp -r "$ROOT/../shared/data/ndpi/pcap" "$DEPS/shared/data/ndpi/"
  fi
  du -sh "$DEPS"
  exit 0
fi

REPORT=$(realpath -m "${1:-gpu_check.md}")
BUILD=$ROOT/build-gpu
JOBS=${ETCPIPE_GPU_CHECK_JOBS:-$(nproc)}
mkdir -p "$(dirname "$REPORT")"
: > "$REPORT"
# Every step's output, gathered at the end into one file beside the report (REPORT.log).
LOGS=$(mktemp -d)
gather_logs() {
  for f in "$LOGS"/*; do
    [[ -f $f ]] && { echo "==> $(basename "$f")"; cat "$f"; }
  done > "${REPORT%.md}.log"
  rm -rf "$LOGS"
}
trap gather_logs EXIT
say() { echo "$*" | tee -a "$REPORT"; }
skip() { say "SKIPPED: $*"; }

say "# etcpipe GPU check, $(date -u +%F' '%H:%M) UTC, commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)"
say ""
if command -v nvidia-smi > /dev/null; then
  say "GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -1)"
else
  say "GPU: none (no nvidia-smi)"
fi
say "CPU: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

NVCC=$(command -v nvcc || { [[ -x /usr/local/cuda/bin/nvcc ]] && echo /usr/local/cuda/bin/nvcc; } || true)
# The Python that trains the test model: the first on PATH (the GPU machine's PyTorch), else
# Debian's, that has numpy and torch.
PY=""
for p in "$(command -v python3)" /usr/bin/python3; do
  if [[ -x $p ]] && "$p" -c 'import numpy, torch' 2> /dev/null; then PY=$p; break; fi
done
[[ -z $PY ]] && PY=$(command -v python3 || echo /usr/bin/python3)
TORCH_PREFIX=""
if [[ -n $PY ]] && "$PY" -c 'import torch' 2> /dev/null; then
  TORCH_PREFIX=$("$PY" -c 'import torch; print(torch.utils.cmake_prefix_path)')
  say "PyTorch: $("$PY" -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda, "available:", torch.cuda.is_available())')"
fi

# The build: the CUDA extractor where nvcc is, the TorchScript engine against PyTorch's libtorch
# (or Debian's), everything else as usual.
args=(-G Ninja -DCMAKE_BUILD_TYPE=Release "-DPython3_EXECUTABLE=$PY")
prefixes=()
[[ -n $TORCH_PREFIX ]] && prefixes+=("$TORCH_PREFIX")
if [[ -d $DEPS/root ]]; then
  prefixes+=("$DEPS/root/usr")
  args+=("-DTHRUST_INCLUDE=$DEPS/thrust/usr/include"
    "-DREADERWRITERQUEUE_INCLUDE=$DEPS/root/usr/include")
  export PKG_CONFIG_LIBDIR=$DEPS/root/usr/lib/x86_64-linux-gnu/pkgconfig:$DEPS/root/usr/share/pkgconfig
  export PKG_CONFIG_SYSROOT_DIR=$DEPS/root
  libs=$DEPS/root/usr/lib/x86_64-linux-gnu:$DEPS/root/lib/x86_64-linux-gnu
  export LD_LIBRARY_PATH=$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  args+=("-DCMAKE_EXE_LINKER_FLAGS=-Wl,-rpath-link,${libs//:/,-rpath-link,}")
fi
((${#prefixes[@]})) && args+=("-DCMAKE_PREFIX_PATH=$(IFS=';'; echo "${prefixes[*]}")")
[[ -d $DEPS/shared/data ]] && args+=("-DETCPIPE_SHARED_DATA=$DEPS/shared/data")
if [[ -n $NVCC ]]; then
  args+=(-DETCPIPE_CUDA=ON "-DCMAKE_CUDA_COMPILER=$NVCC")
else
  skip "no nvcc: the CUDA batch extractor is not built"
fi

say ""
say "## Build"
t0=$(date +%s)
if ! cmake -S "$ROOT" -B "$BUILD" "${args[@]}" > "$LOGS/gpu_build.log" 2>&1 \
    || ! cmake --build "$BUILD" -j "$JOBS" >> "$LOGS/gpu_build.log" 2>&1; then
  say "BUILD FAILED ($(($(date +%s) - t0)) s); the end of its log:"
  tail -40 "$LOGS/gpu_build.log" | tee -a "$REPORT"
  exit 1
fi
say "built in $(($(date +%s) - t0)) s with $JOBS jobs: $(grep -o 'Engines in this build: .*' <("$BUILD/src/etcpipe" classify --help))"
ETC=$BUILD/src/etcpipe
gpu=0
[[ -n $NVCC ]] && "$PY" -c 'import torch,sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2> /dev/null && gpu=1
[[ $gpu == 0 ]] && command -v nvidia-smi > /dev/null && nvidia-smi -L > /dev/null 2>&1 && gpu=1

failed=0
# A CNN (TorchScript, reads the payload matrix) trained on the bundled samples: for the
# device-rows test and the inference benchmark.
tmp=$LOGS/work
mkdir -p "$tmp"
CNN=""
if "$ETC" extract -q -r "$ROOT/data/samples" -o "$tmp/ds" --labels-csv "$ROOT/data/samples/labels.csv" \
    && PYTHONPATH=$ROOT/python "$PY" -m etcpipe_train.train --data "$tmp/ds" --arch cnn --out "$tmp/cnn" \
      --min-flows 1 --all --epochs 1 > "$LOGS/gpu_train.log" 2>&1; then
  CNN=$tmp/cnn
else
  say "FAILED: the CNN for the tests and benchmarks could not be trained; see the log"
  failed=1
fi

say ""
say "## Tests"
# One line per test of a gtest log: PASSED, SKIPPED (with the reason) or FAILED.
report_gtest() {  # log, test name, what it shows
  local log=$1 name=$2 what=$3
  if grep -q "^\[       OK \] $name " "$log"; then
    say "PASSED: $what ($(grep -A1 "^\[ RUN      \] $name\$" "$log" | tail -1))"
  elif grep -q "^\[  SKIPPED \] $name " "$log"; then
    skip "$what: $(grep -B1 "^\[  SKIPPED \] $name " "$log" | head -1)"
  else
    say "FAILED: $what; the end of its log:"
    tail -30 "$log" | tee -a "$REPORT"
    failed=1
  fi
}
if [[ -x $BUILD/tests/etcpipe_gpu_tests ]]; then
  ETCPIPE_GPU_TEST_MODEL=$CNN "$BUILD/tests/etcpipe_gpu_tests" > "$LOGS/gpu_tests.log" 2>&1
  report_gtest "$LOGS/gpu_tests.log" CudaBatchExtractor.SameRowsAsTheReference \
    "CUDA batch extractor rows equal the reference's"
  report_gtest "$LOGS/gpu_tests.log" CudaBatchExtractor.DeviceRowsGoToTheCudaEngineWhereTheyAre \
    "device rows read in place by the TorchScript engine on CUDA give the CPU engine's probabilities"
else
  skip "CUDA extractor tests: not built (no nvcc)"
fi
# The TorchScript engine on the GPU: classify_test trains a CNN and checks its verdicts on the
# CPU and, where libtorch has CUDA and a GPU, on the GPU against the Python side's.
if "$PY" "$ROOT/tests/integration/classify_test.py" "$ETC" "$ROOT" \
    EnginesAgreeWithPython.test_torchscript_engine > "$LOGS/gpu_classify.log" 2>&1; then
  if grep -q 'skipped' "$LOGS/gpu_classify.log"; then
    skip "TorchScript engine test: $(grep -m1 skipped "$LOGS/gpu_classify.log")"
  else
    say "PASSED: TorchScript CNN verdicts equal the Python side's on the CPU$([[ $gpu == 1 ]] && echo " and with --device cuda")"
  fi
else
  say "FAILED: TorchScript engine test; the end of its log:"
  tail -30 "$LOGS/gpu_classify.log" | tee -a "$REPORT"
  failed=1
fi
if [[ $gpu == 0 ]]; then
  skip "--device cuda verdicts: no GPU, or no PyTorch with CUDA here (Debian's libtorch is CPU-only)"
fi

say ""
say "## Benchmarks"
if [[ -x $BUILD/bench/bench_features ]]; then
  "$BUILD/bench/bench_features" --benchmark_filter='BM_(Streaming|BatchCpu|BatchCuda)/' \
    --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
    --benchmark_format=json > "$LOGS/gpu_bench_features.json" 2> "$LOGS/gpu_bench_features.log"
  "$PY" - "$LOGS/gpu_bench_features.json" << 'EOF' | tee -a "$REPORT"
import json, sys
runs = json.load(open(sys.argv[1]))["benchmarks"]
print("Feature extraction (bench_features: 4,096 flows a pass; median of 3; the streaming and CPU")
print("batch extractors on one core, the batch extractor on the GPU):\n")
print("| benchmark | [N x L] | flows/s | GB/s out | ms a pass |")
print("| --- | --- | --- | --- | --- |")
for r in runs:
    if r.get("aggregate_name") != "median":
        continue
    name, n, l = r["run_name"].split("/")[:3]
    ms = r["real_time"] * {"ns": 1e-6, "us": 1e-3, "ms": 1, "s": 1e3}[r["time_unit"]]
    print(f"| {name} | [{n} x {l}] | {r.get('flows/s', r.get('items_per_second', 0)):,.0f} | "
          f"{r.get('bytes_per_second', 0) / 1e9:.2f} | {ms:.2f} |")
EOF
  grep -q 'BM_BatchCuda' "$LOGS/gpu_bench_features.json" || skip "BM_BatchCuda: no CUDA device or not built"
else
  skip "bench_features not built"
fi

# TorchScript CNN inference on generated traffic, CPU against GPU.
if [[ -n $CNN ]]; then
  say ""
  say "TorchScript CNN inference (etcpipe bench --model CNN --flows 20000 --new-flows-per-sec 1000000"
  say "--packet-size 600 --packets 2000000 --workers W; classified flows per wall second):"
  say ""
  say "| device | workers | classified flows/s | batch | inference threads | p50 / p99 verdict latency ms |"
  say "| --- | --- | --- | --- | --- | --- |"
  workers=$(( $(nproc) > 8 ? 4 : 1 ))
  for dev in cpu cuda; do
    if [[ $dev == cuda && $gpu == 0 ]]; then skip "CNN inference on cuda: no GPU"; continue; fi
    if out=$("$ETC" bench --model "$CNN" --device "$dev" --flows 20000 --new-flows-per-sec 1000000 \
        --packet-size 600 --packets 2000000 --workers "$workers" --json 2> "$LOGS/gpu_bench_$dev.log"); then
      "$PY" - "$out" "$dev" "$workers" << 'EOF' | tee -a "$REPORT"
import json, sys
r = json.loads(sys.argv[1])
print(f"| {sys.argv[2]} | {sys.argv[3]} | {r['classified_flows_per_sec']:,.0f} | {r['batch']} | "
      f"{r['infer_threads_peak']} | {r['verdict_latency_ms_p50']:.1f} / {r['verdict_latency_ms_p99']:.1f} |")
EOF
      echo "$out" >> "$LOGS/gpu_bench_inference.jsonl"
    else
      say "FAILED: etcpipe bench --device $dev; $(tail -1 "$LOGS/gpu_bench_$dev.log")"
      failed=1
    fi
  done
fi

say ""
say "gpu_check: $([[ $failed == 0 ]] && echo OK || echo FAILED)"
exit $failed
