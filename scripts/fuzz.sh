#!/usr/bin/env bash
# Builds the libFuzzer harnesses of fuzz/ (clang, -fsanitize=fuzzer,address,undefined) and runs
# each for a bounded time on its committed seed corpus. Installs what it needs (idempotent).
# A crash, a sanitizer report, an uncaught exception other than duel::Error, a timeout or an
# allocation above the RSS limit fails the script; the input is saved under $FUZZ_OUT/<harness>/
# (crash-*, oom-*, timeout-*, leak-*). Turn each one into a regression input under
# fuzz/regressions/<harness>/ (tests/data/test_fuzz_regressions.cpp replays them) and fix it.
#
# Env: FUZZ_TIME (seconds per harness, default 60), FUZZ_RSS_MB (default 2048),
#      FUZZ_TIMEOUT (seconds per input, default 10), FUZZ_JOBS (parallel fuzzing processes per
#      harness, default 1), FUZZ_HARNESSES (space-separated names; default all in fuzzers.txt),
#      FUZZ_BUILD_DIR (default build-fuzz), FUZZ_OUT (default $FUZZ_BUILD_DIR/out),
#      DUEL_BUILD_DIR (the build whose libduel.a the harnesses link: by default the clang
#      sanitizer build of scripts/sanitize.sh when it has been built (ASAN_BUILD_DIR, default
#      build-asan), else build if it is CPU-only, else a CPU-only g++ build made here in
#      build-fuzz-lib), JOBS (build jobs, default 2).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"

APT_PACKAGES="cmake g++ make clang libclang-rt-14-dev libomp-14-dev libeigen3-dev libboost-context-dev libstb-dev zlib1g-dev"
FUZZ_TIME="${FUZZ_TIME:-60}"
FUZZ_RSS_MB="${FUZZ_RSS_MB:-2048}"
FUZZ_TIMEOUT="${FUZZ_TIMEOUT:-10}"
FUZZ_JOBS="${FUZZ_JOBS:-1}"
FUZZ_BUILD_DIR="${FUZZ_BUILD_DIR:-build-fuzz}"
FUZZ_OUT="${FUZZ_OUT:-$FUZZ_BUILD_DIR/out}"
ASAN_BUILD_DIR="${ASAN_BUILD_DIR:-build-asan}"
if [[ -z "${DUEL_BUILD_DIR:-}" && -f "$ASAN_BUILD_DIR/libduel.a" ]] &&
   grep -qE '^CMAKE_CXX_COMPILER:[A-Z]*=.*clang' "$ASAN_BUILD_DIR/CMakeCache.txt"; then
  DUEL_BUILD_DIR="$ASAN_BUILD_DIR"  # instrumented already, and no second build of the library
fi
DUEL_BUILD_DIR="${DUEL_BUILD_DIR:-build}"
JOBS="${JOBS:-2}"

source scripts/install_packages.sh
# shellcheck disable=SC2086
install_packages fuzz.sh $APT_PACKAGES

# 1. libduel.a: the sanitizer build's, or from a CPU-only g++ build (the one scripts/setup.sh
#    made, if it is CPU-only)
if [[ -f "$DUEL_BUILD_DIR/CMakeCache.txt" ]] && grep -qE '^CMAKE_CUDA_COMPILER:[A-Z]*=.*nvcc' "$DUEL_BUILD_DIR/CMakeCache.txt"; then
  echo "fuzz.sh: $DUEL_BUILD_DIR has the CUDA backend; using a CPU-only build in $FUZZ_BUILD_DIR-lib"
  DUEL_BUILD_DIR="$FUZZ_BUILD_DIR-lib"
fi
if [[ ! -f "$DUEL_BUILD_DIR/CMakeCache.txt" ]]; then
  cmake -S . -B "$DUEL_BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DDUEL_CUDA=OFF
fi
cmake --build "$DUEL_BUILD_DIR" -j"$JOBS" --target duel

OPENMP=libgomp
grep -qE '^CMAKE_CXX_COMPILER:[A-Z]*=.*clang' "$DUEL_BUILD_DIR/CMakeCache.txt" && OPENMP=libomp
echo "fuzz.sh: linking $DUEL_BUILD_DIR/libduel.a ($OPENMP)"

# 2. the harnesses
CXX=clang++ cmake -S fuzz -B "$FUZZ_BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DDUEL_LIBRARY="$(realpath "$DUEL_BUILD_DIR")/libduel.a" -DDUEL_LIBRARY_OPENMP="$OPENMP"
cmake --build "$FUZZ_BUILD_DIR" -j"$JOBS"

# 3. run each for FUZZ_TIME seconds, starting from the committed corpus (new inputs go to a
#    scratch copy, so the committed corpus stays small)
read -r -a harnesses <<<"${FUZZ_HARNESSES:-$(tr '\n' ' ' <"$FUZZ_BUILD_DIR/fuzzers.txt")}"
failed=()
for h in "${harnesses[@]}"; do
  bin="$FUZZ_BUILD_DIR/${h}_fuzzer"
  [[ -x "$bin" ]] || { echo "fuzz.sh: no harness $bin" >&2; exit 1; }
  work="$FUZZ_OUT/$h"
  rm -rf "$work/corpus"
  mkdir -p "$work/corpus"
  seeds=("fuzz/corpus/$h")
  [[ -d "fuzz/regressions/$h" ]] && seeds+=("fuzz/regressions/$h")
  echo "fuzz.sh: $h for ${FUZZ_TIME}s (rss limit ${FUZZ_RSS_MB} MB)"
  args=(-max_total_time="$FUZZ_TIME" -rss_limit_mb="$FUZZ_RSS_MB" -malloc_limit_mb="$FUZZ_RSS_MB"
        -timeout="$FUZZ_TIMEOUT" -print_final_stats=1 -artifact_prefix="$work/")
  if ((FUZZ_JOBS > 1)); then args+=(-fork="$FUZZ_JOBS" -ignore_crashes=0); fi
  set +e
  "$bin" "$work/corpus" "${seeds[@]}" "${args[@]}" >"$work/log.txt" 2>&1
  rc=$?
  set -e
  tail -n 25 "$work/log.txt"
  if ((rc != 0)); then
    echo "fuzz.sh: $h FAILED (exit $rc); inputs: $(ls "$work"/{crash,oom,timeout,leak,slow-unit}-* 2>/dev/null | tr '\n' ' ')" >&2
    failed+=("$h")
  fi
done
if ((${#failed[@]})); then
  echo "fuzz.sh: failures in: ${failed[*]} (logs in $FUZZ_OUT/<harness>/log.txt)" >&2
  exit 1
fi
echo "fuzz.sh: all harnesses ran ${FUZZ_TIME}s without a finding"
