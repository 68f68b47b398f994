#!/usr/bin/env bash
# Builds everything and runs every test:
#   1. release build: unit, capture, golden and CLI tests (ctest)
#   2. the XDP program and socket filter on Debian 12's own kernel, 6.1, booted in QEMU: the
#      release build's tests that load them (scripts/kernel_check.sh; skipped where no VM can
#      be made)
#   3. AddressSanitizer + UndefinedBehaviorSanitizer build: the same tests, with leak checks
#   4. CUDA build where nvcc is: the feature tests, and the GPU test (skipped without a GPU)
#   5. clang libFuzzer build: each fuzz target for $ETCPIPE_FUZZ_SECONDS (default 60) from a
#      seed corpus made of the shared captures plus fuzz/regressions/ (inputs that once
#      crashed or hung)
# Ends with one line "tests: N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh || exit 1

FUZZ_SECONDS=${ETCPIPE_FUZZ_SECONDS:-60}
JOBS=$(nproc)
passed=0
failed=0
skipped=0

run_ctest() {  # build dir, extra ctest args...
  local dir=$1
  shift
  local log
  log=$(mktemp)
  ctest --test-dir "$dir" --output-on-failure -j "$JOBS" "$@" 2>&1 | tee "$log"
  local line
  line=$(grep -E '^[0-9]+% tests passed' "$log" | tail -1)
  if [[ -z "$line" ]]; then
    failed=$((failed + 1))
  else
    local total fails skips
    total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<< "$line")
    fails=$(sed -E 's/.*, ([0-9]+) tests failed.*/\1/' <<< "$line")
    skips=$(grep -cE '\(Skipped\)$' "$log" || true)
    passed=$((passed + total - fails - skips))
    failed=$((failed + fails))
    skipped=$((skipped + skips))
  fi
  rm -f "$log"
}

build() {  # dir, cmake args... (the targets to build, if not all: $TARGETS)
  local dir=$1
  shift
  local targets=()
  [[ -n ${TARGETS:-} ]] && targets=(--target $TARGETS)
  cmake -S . -B "$dir" -G Ninja "$@" > /dev/null && cmake --build "$dir" -j "$JOBS" "${targets[@]}"
}

echo "== release build"
if build build -DCMAKE_BUILD_TYPE=Release; then run_ctest build; else failed=$((failed + 1)); fi

echo "== BPF programs on Debian 12's kernel 6.1 (QEMU)"
kernel_rc=0
bash scripts/kernel_check.sh build || kernel_rc=$?
case $kernel_rc in
  0) passed=$((passed + 1)) ;;
  77) skipped=$((skipped + 1)) ;;
  *) failed=$((failed + 1)) ;;
esac

echo "== ASan + UBSan build"
if build build-asan -DCMAKE_BUILD_TYPE=Debug -DETCPIPE_SANITIZE=ON -DETCPIPE_BENCH=OFF; then
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 run_ctest build-asan
else
  failed=$((failed + 1))
fi

# The CUDA build: compiled wherever nvcc is. The feature tests run on it (the CPU paths of a
# CUDA-enabled build); the GPU test runs where a GPU is and is counted as skipped otherwise.
NVCC=$(command -v nvcc || { [[ -x /usr/local/cuda/bin/nvcc ]] && echo /usr/local/cuda/bin/nvcc; })
if [[ -n "$NVCC" ]]; then
  echo "== CUDA build ($NVCC)"
  if build build-cuda -DCMAKE_BUILD_TYPE=Release -DETCPIPE_CUDA=ON \
      -DCMAKE_CUDA_COMPILER="$NVCC" -DETCPIPE_BENCH=OFF -DETCPIPE_TORCH=OFF; then
    run_ctest build-cuda -R 'CudaBatchExtractor|Extractors|FeatureSpec|SelectedRing'
  else
    failed=$((failed + 1))
  fi
else
  echo "== no nvcc: CUDA build skipped"
fi

echo "== fuzzing, ${FUZZ_SECONDS} s per target"
# Only the fuzz targets and what they link: not the CLI, nor the engines.
if CC=clang CXX=clang++ TARGETS="fuzz_decoder fuzz_pcap" build build-fuzz \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DETCPIPE_FUZZ=ON -DETCPIPE_TESTS=OFF; then
  corpus=build-fuzz/corpus
  seeds=build-fuzz/seeds
  rm -rf "$seeds"
  shared=../shared/data/ndpi/pcap
  if [[ -d $shared ]]; then
    python3 scripts/make_fuzz_corpus.py "$shared" "$seeds"
  else
    mkdir -p "$seeds/decoder" "$seeds/pcap"
    cp data/samples/*.pcap* "$seeds/pcap/"
  fi
  for target in decoder pcap; do
    mkdir -p "$corpus/$target"
    regressions=()
    [[ -d fuzz/regressions/$target ]] && regressions=("fuzz/regressions/$target")
    # -timeout: an input that runs for 10 s is a hang, reported with its artifact.
    if build-fuzz/fuzz/fuzz_$target -max_total_time="$FUZZ_SECONDS" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="build-fuzz/crash-$target-" \
        "$corpus/$target" "$seeds/$target" "${regressions[@]}" \
        > "build-fuzz/fuzz_$target.log" 2>&1; then
      echo "fuzz_$target: $(grep -E '^stat::number_of_executed_units' build-fuzz/fuzz_$target.log | awk '{print $2}') runs, no crash"
      passed=$((passed + 1))
    else
      echo "fuzz_$target FAILED:"
      tail -40 "build-fuzz/fuzz_$target.log"
      failed=$((failed + 1))
    fi
  done
else
  failed=$((failed + 1))
fi

echo "tests: $passed passed, $failed failed, $skipped skipped"
[[ $failed -eq 0 ]]
