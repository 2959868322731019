#!/usr/bin/env bash
# Build (via setup.sh), run the unit tests, then install duel into a temporary
# prefix and build + run examples/consumer against it with find_package(duel).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"
BUILD_DIR="${BUILD_DIR:-build}"
JOBS="${JOBS:-2}"

bash scripts/setup.sh

# Tests run two at a time, one OpenMP thread each (two processes with two
# spinning OpenMP teams on two cores slow each other down badly). The tests
# tagged [threads] raise the thread count themselves to exercise the parallel paths.
OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$JOBS"

PREFIX="$(mktemp -d /tmp/duel-install-XXXX)"
CONSUMER_BUILD="$(mktemp -d /tmp/duel-consumer-build-XXXX)"
cleanup() { rm -rf "$PREFIX" "$CONSUMER_BUILD"; }
trap cleanup EXIT

cmake --install "$BUILD_DIR" --prefix "$PREFIX"
cmake -S "$ROOT/examples/consumer" -B "$CONSUMER_BUILD" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$PREFIX"
cmake --build "$CONSUMER_BUILD" -j"$JOBS"
"$CONSUMER_BUILD/consumer"

echo "test.sh: all checks passed"
