#!/usr/bin/env bash
# The main job: build duel (via setup.sh), train DCGAN on Fashion-MNIST for a few
# minutes on the CPU, evaluate it with the judge classifier, and leave a sample
# grid and a loss plot in the run folder.
#
#   bash scripts/demo.sh                 # 1800 iterations: 3.4 minutes of training on 2 cores, FCD 36
#                                        # (record docs/runs/demo-dcgan-1800; docs/performance.md)
#   STEPS=3000 bash scripts/demo.sh      # longer: see docs/results.md for what 3000 reach
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD_DIR="${BUILD_DIR:-build}"
OUT="${OUT:-runs/demo-dcgan}"
STEPS="${STEPS:-1800}"

bash scripts/setup.sh
"$BUILD_DIR/duel" train dcgan --steps "$STEPS" --sample-every 200 --log-every 20 --out "$OUT" --no-resume
"$BUILD_DIR/duel" eval "$OUT"
echo
echo "sample grid: $OUT/samples_latest.png   loss plot: $OUT/losses.png   metrics: $OUT/metrics.jsonl"
