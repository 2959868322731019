#!/usr/bin/env bash
# The semi-supervised table's runs (docs/results.md, "semi-supervised classification"): every
# model of the protocol at 10 and 100 labels per class on the labelled subsets 0, 1 and 2,
# 1000 iterations each, each recorded as docs/runs/<model>-l<labels per class>-s<subset>/ by
# scripts/record_run.sh. Resumable, and several copies can run side by side
# (scripts/lib/run_queue.sh).
#
#   OMP_NUM_THREADS=1 nohup scripts/ssl_runs.sh ssl-baseline sgan improved-gan triple-gan bad-gan > runs/ssl.log 2>&1 &
#
# Environment: LABELS ("10 100"), SUBSETS ("0 1 2"), STEPS (1000), DUEL (build/duel), WAIT_FOR,
# EXTRA (more options, e.g. "--lambda-pt 0") with SUFFIX (added to the record's name, e.g. "-pt0").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/run_queue.sh
LABELS="${LABELS:-10 100}"
SUBSETS="${SUBSETS:-0 1 2}"
STEPS="${STEPS:-1000}"
export DUEL="${DUEL:-build/duel}"
(($# > 0)) || { echo "usage: $0 MODEL..." >&2; exit 2; }
wait_for_machine
for subset in $SUBSETS; do
  for l in $LABELS; do
    for model in "$@"; do
      name="$model${SUFFIX:-}-l$l-s$subset"
      out="runs/zoo3/$name"
      # shellcheck disable=SC2086
      run_recorded "$name" "docs/runs/$name/eval.txt" "$out" \
        "build/duel train $model --labels-per-class $l --subset-seed $subset --steps $STEPS ${EXTRA:-} --out $out" -- \
        train "$model" --labels-per-class "$l" --subset-seed "$subset" --steps "$STEPS" ${EXTRA:-} || true
    done
  done
done
echo "== done ($(date -u +%H:%M))"
