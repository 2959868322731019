#!/usr/bin/env bash
# The semi-supervised table's runs (docs/results.md, "semi-supervised classification"): every
# model of the protocol at 10 and 100 labels per class on the labelled subsets 0, 1 and 2,
# 1000 iterations each, each recorded as docs/runs/<model>-l<labels per class>-s<subset>/ by
# scripts/record_run.sh. A recorded run is skipped and an interrupted one resumes, so the script
# can be stopped and started again across sessions. Several copies can run side by side (one
# per core): each claims a run with mkdir under runs/claims/ before starting it.
#
#   OMP_NUM_THREADS=1 nohup scripts/ssl_runs.sh ssl-baseline sgan improved-gan triple-gan bad-gan > runs/ssl.log 2>&1 &
#
# Environment: LABELS ("10 100"), SUBSETS ("0 1 2"), STEPS (1000), DUEL (build/duel; point it
# at a copy so that rebuilding does not change running jobs), WAIT_FOR (a pgrep -f pattern:
# start when no process matches it), EXTRA (more options, e.g. "--lambda-pt 0") with SUFFIX
# (added to the record's name, e.g. "-pt0").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
LABELS="${LABELS:-10 100}"
SUBSETS="${SUBSETS:-0 1 2}"
STEPS="${STEPS:-1000}"
export DUEL="${DUEL:-build/duel}"
(($# > 0)) || { echo "usage: $0 MODEL..." >&2; exit 2; }
if [[ -n "${WAIT_FOR:-}" ]]; then
  while pgrep -f "$WAIT_FOR" > /dev/null; do sleep 30; done
fi
mkdir -p runs/claims runs/zoo3
for subset in $SUBSETS; do
  for l in $LABELS; do
    for model in "$@"; do
      name="$model${SUFFIX:-}-l$l-s$subset"
      [[ -f "docs/runs/$name/eval.txt" ]] && continue
      mkdir "runs/claims/$name" 2> /dev/null || continue  # another copy has it
      out="runs/zoo3/$name"
      cmd="build/duel train $model --labels-per-class $l --subset-seed $subset --steps $STEPS ${EXTRA:-} --out $out"
      echo "== $name: $cmd  ($(date -u +%H:%M))"
      # shellcheck disable=SC2086
      if ! "$DUEL" train "$model" --labels-per-class "$l" --subset-seed "$subset" --steps "$STEPS" ${EXTRA:-} --out "$out" --quiet; then
        echo "== $name FAILED"
        rmdir "runs/claims/$name"
        continue
      fi
      scripts/record_run.sh "$out" "$name" "OMP_NUM_THREADS=1 ${cmd//  / }"
    done
  done
done
echo "== done ($(date -u +%H:%M))"
