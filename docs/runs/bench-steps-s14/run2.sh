#!/usr/bin/env bash
# Part 2 of bench-steps-s14: every whole step at 2 threads, wall clock, fastest of 11, twice,
# libgomp's spinning shortened (fair to both libraries: docs/performance.md, "OpenMP in a VM"),
# on the idle VM (training runs and builds paused with SIGSTOP while it runs).
cd "$(dirname "$0")/../../.."
B="${B:-build-mpi/bench/duel_bench}"
pids=$(pgrep -f " train dqn|cc1plus|nvcc|cicc|ptxas" || true)
[[ -n "$pids" ]] && kill -STOP $pids
for rep in 1 2; do
  echo "\$ GOMP_SPINCOUNT=1000 OPENBLAS_CORETYPE=SkylakeX OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 $B --filter \"step \" --threads 2 --stat min --reps 11 --flops-per-cycle 64 --markdown"
  GOMP_SPINCOUNT=1000 OPENBLAS_CORETYPE=SkylakeX OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 "$B" --filter "step " --threads 2 --stat min --reps 11 --flops-per-cycle 64 --markdown | grep -E "^\| step|load average"
  echo
done
[[ -n "$pids" ]] && kill -CONT $pids
