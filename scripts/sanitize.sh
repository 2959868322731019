#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer build of the whole project (clang, CPU and the
# SIMT emulator) in its own build directory, then the test suite under it. Any ASan or UBSan
# report fails the test that triggers it (-fno-sanitize-recover=all, halt_on_error), and so
# does ASan's warning that it could not follow a stack switch ("ignoring requested
# __asan_handle_no_return"), the precondition of false reports: the emulator annotates its
# fiber switches (kernels/sim/sim.cpp), so the [sim] tests run too.
#
# Env: ASAN_BUILD_DIR (default build-asan), JOBS (default 2: build jobs and ctest -j),
#      SANITIZE_PHASE (build, test or all; default all: .ci/run builds first, links the
#        fuzzers against this build's libduel.a, then tests),
#      SANITIZE_EXCLUDE_TAGS (Catch tags left out of the run, default none),
#      SANITIZE_TESTS (a Catch test spec to run instead, e.g. "[data]"; empty = the suite
#        less SANITIZE_EXCLUDE_TAGS), DUEL_CMAKE_ARGS (extra configure arguments).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

APT_PACKAGES="cmake make clang libclang-rt-14-dev libomp-14-dev libeigen3-dev catch2 libboost-context-dev libstb-dev zlib1g-dev"
BUILD_DIR="${ASAN_BUILD_DIR:-build-asan}"
JOBS="${JOBS:-2}"
PHASE="${SANITIZE_PHASE:-all}"
EXCLUDE_TAGS="${SANITIZE_EXCLUDE_TAGS:-}"
TESTS="${SANITIZE_TESTS:-}"
[[ "$PHASE" =~ ^(build|test|all)$ ]] || { echo "sanitize.sh: SANITIZE_PHASE must be build, test or all, got '$PHASE'" >&2; exit 2; }

if [[ "$PHASE" != test ]]; then
  source scripts/install_packages.sh
  # shellcheck disable=SC2086
  install_packages sanitize.sh $APT_PACKAGES
  SAN_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
  start=$SECONDS
  # clang at -O1 -g1 (Debug with these flags; asserts on): about 3 times faster to build than
  # g++'s -O3 -g of RelWithDebInfo, reports still carry file:line, and its libduel.a is the
  # one the libFuzzer harnesses (clang) can link.
  # shellcheck disable=SC2086
  CC=clang CXX=clang++ cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" \
    -DDUEL_CUDA=OFF -DCMAKE_CXX_FLAGS="$SAN_FLAGS" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
    -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" \
    ${DUEL_CMAKE_ARGS:-}
  cmake --build "$BUILD_DIR" -j"$JOBS" --target duel_tests
  echo "sanitize.sh: build took $((SECONDS - start)) s"
fi
[[ "$PHASE" == build ]] && exit 0

# detect_leaks=0: the test binary keeps process-wide caches (allocators, thread pools) alive on
# purpose; leak checking would report those, not bugs. Every other ASan and UBSan check is on.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1:halt_on_error=1:detect_stack_use_after_return=0:strict_string_checks=1:check_initialization_order=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"

# ASan writes its reports and warnings to files here (one per process), so that they can be
# checked after the run: a warning does not fail the test that printed it.
ASAN_LOG_DIR="$(pwd)/$BUILD_DIR/asan-logs"
rm -rf "$ASAN_LOG_DIR"
mkdir -p "$ASAN_LOG_DIR"
export ASAN_OPTIONS="$ASAN_OPTIONS:log_path=$ASAN_LOG_DIR/asan"

start=$SECONDS
set +e
if [[ -n "$TESTS" ]]; then
  "$BUILD_DIR/duel_tests" "$TESTS"
  rc=$?
else
  # ctest runs each test case in its own process (parallel, and a crash names its test);
  # leave out the test cases with the excluded tags, by exact name
  exclude=""
  if [[ -n "$EXCLUDE_TAGS" ]]; then
    # (Catch's --list-* exits with the number of tests listed)
    exclude="$({ "$BUILD_DIR/duel_tests" --list-test-names-only "$EXCLUDE_TAGS" || true; } |
      sed -e '/^$/d' -e 's/[][\\.*^$+?(){}|]/\\&/g' | paste -sd '|' -)"
  fi
  if [[ -n "$exclude" ]]; then
    echo "sanitize.sh: leaving out $(tr '|' '\n' <<<"$exclude" | wc -l) test cases tagged $EXCLUDE_TAGS"
    ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$JOBS" -E "^($exclude)\$"
  else
    ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$JOBS"
  fi
  rc=$?
fi
set -e
echo "sanitize.sh: tests took $((SECONDS - start)) s"
if compgen -G "$ASAN_LOG_DIR/asan.*" >/dev/null; then
  echo "sanitize.sh: AddressSanitizer wrote:"
  cat "$ASAN_LOG_DIR"/asan.*
  if grep -q "ignoring requested __asan_handle_no_return" "$ASAN_LOG_DIR"/asan.*; then
    echo "sanitize.sh: ASan lost track of a stack switch (above): its later reports could be false" >&2
  fi
  exit 1
fi
((rc == 0)) || exit "$rc"
echo "sanitize.sh: no sanitizer reports"
