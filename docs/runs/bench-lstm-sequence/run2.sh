#!/usr/bin/env bash
# Part 2 of bench-lstm-sequence: the LSTM rows at 2 threads, wall clock, fastest of 11, the
# binaries before and after alternated, libgomp's spinning shortened (fair to both libraries:
# docs/performance.md, "OpenMP in a VM"), on the idle VM (training runs and builds paused with
# SIGSTOP while it runs).
cd "$(dirname "$0")/../../.."
BEFORE="${BEFORE:?path of the duel_bench built before the change}"
AFTER="${AFTER:-build-mpi/bench/duel_bench}"
pids=$(pgrep -f " train dqn|cc1plus|nvcc|cicc|ptxas" || true)
[[ -n "$pids" ]] && kill -STOP $pids
for B in "$BEFORE" "$AFTER" "$BEFORE" "$AFTER"; do
  echo "\$ GOMP_SPINCOUNT=1000 OPENBLAS_CORETYPE=SkylakeX OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 $B --filter lstm --threads 2 --stat min --reps 11 --flops-per-cycle 64 --markdown"
  GOMP_SPINCOUNT=1000 OPENBLAS_CORETYPE=SkylakeX OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 $B --filter lstm --threads 2 --stat min --reps 11 --flops-per-cycle 64 --markdown | grep -E "^\| lstm|load average"
  echo
done
[[ -n "$pids" ]] && kill -CONT $pids
