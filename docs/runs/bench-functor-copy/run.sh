#!/usr/bin/env bash
# The elementwise loops taking their functor by value (kernels/cpu/elementwise.cpp, map1/map2:
# firstprivate and a per-row copy), before and after: two builds of duel_bench (BEFORE, AFTER:
# the commit before and the commit that makes the change), one after the other.
# AVX-512 machine (Sapphire Rapids VM), 2 cores shared with two training runs.
cd "$(dirname "$0")/../../.."
BEFORE="${BEFORE:?path of the duel_bench built before the change}"
AFTER="${AFTER:-build-mpi/bench/duel_bench}"
for f in relu step; do
  for B in "$BEFORE" "$AFTER"; do
    echo "\$ OPENBLAS_CORETYPE=SkylakeX OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $B --filter $f --threads 1 --clock cpu --stat min --reps 7 --flops-per-cycle 64 --markdown"
    OPENBLAS_CORETYPE=SkylakeX OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $B --filter $f --threads 1 --clock cpu --stat min --reps 7 --flops-per-cycle 64 --markdown
    echo
  done
done
