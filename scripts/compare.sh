#!/usr/bin/env bash
# The zoo's comparison (docs/results.md, "Same budget, every loss"): every image model with the
# same budget of generator iterations and batch 64 (the VAE: its own batch of 100), seeds 0, 1
# and 2, each run recorded as docs/runs/cmp-<steps>-<model>-s<seed>/ by scripts/record_run.sh.
# A run already recorded is skipped and an interrupted one resumes, so the script can be
# stopped and started again across sessions; a larger STEPS continues the runs of a smaller
# budget from their checkpoints (runs/cmp/<model>-s<seed>) and records them under the new
# budget. `python3 scripts/zoo_table.py --update` builds the table.
#
#   OMP_NUM_THREADS=1 nohup scripts/compare.sh dcgan lsgan-qi wgan ... > runs/compare.log 2>&1 &
#
# Environment: STEPS (500), SEEDS ("0 1 2"), DUEL (build/duel; point it at a copy so that
# rebuilding does not change a running comparison), BIRTHDAY=1 to add the birthday-paradox
# estimate of seed 0 to its record.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
STEPS="${STEPS:-500}"
SEEDS="${SEEDS:-0 1 2}"
export DUEL="${DUEL:-build/duel}"
(($# > 0)) || { echo "usage: $0 MODEL..." >&2; exit 2; }
for model in "$@"; do
  for seed in $SEEDS; do
    name="cmp-$STEPS-$model-s$seed"
    if [[ -f "docs/runs/$name/eval.txt" ]]; then
      echo "== $name: recorded, skipped"
      continue
    fi
    out="runs/cmp/$model-s$seed"
    cmd="build/duel train $model --data fashion-mnist --steps $STEPS --seed $seed --sample-every 250 --out $out"
    echo "== $name: $cmd  ($(date -u +%H:%M))"
    "$DUEL" train "$model" --data fashion-mnist --steps "$STEPS" --seed "$seed" --sample-every 250 --out "$out" --quiet
    scripts/record_run.sh "$out" "$name" "OMP_NUM_THREADS=1 $cmd"
    if [[ "${BIRTHDAY:-0}" == 1 && "$seed" == "$(echo $SEEDS | cut -d' ' -f1)" ]]; then
      "$DUEL" eval "$out" --birthday --out "docs/images/$name-birthday.png" > "docs/runs/$name/birthday.txt"
    fi
  done
done
