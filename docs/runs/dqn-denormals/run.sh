#!/usr/bin/env bash
# Denormal floats in DQN training (docs/performance.md, "Denormals"): 60k frames of Nature DQN on
# MinAtar Breakout (55k updates, one per frame after learning starts, and the acting), one thread, with the default
# (denormals flushed to zero while training) and with --keep-denormals, alternated twice. Prints
# the run's CPU seconds and its last evaluation (10 greedy episodes): the two modes train the
# same network here.
cd "$(dirname "$0")/../../.."
DUEL="${DUEL:-build-mpi/duel}"
for rep in 1 2; do
  for mode in flush keep; do
    out=$(mktemp -d)
    extra=()
    [[ $mode == keep ]] && extra=(--keep-denormals)
    echo "\$ OMP_NUM_THREADS=1 $DUEL train dqn --env breakout --variant nature --steps 60000 --learning-starts 5000 --threads 1 --quiet ${extra[*]}"
    OMP_NUM_THREADS=1 "$DUEL" train dqn --env breakout --variant nature --steps 60000 --learning-starts 5000 --threads 1 \
      --out "$out" --quiet "${extra[@]}"
    grep -E '"eval_return"|"cpu_seconds"' "$out/metrics.jsonl" | tail -2
    echo
    rm -rf "$out"
  done
done
