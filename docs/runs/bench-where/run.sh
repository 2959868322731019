#!/usr/bin/env bash
# `where` vectorised (kernels/cpu/elementwise.cpp, where_typed: a contiguous path, and rows of
# unit stride or with one side a broadcast scalar, all with `omp simd` and both sides read
# unconditionally), before and after: two builds of duel_bench (BEFORE, AFTER), alternated
# twice, libtorch in the same runs. The new BEGAN step row (the autoencoder-discriminator
# family; ELU is a `where`) and the other step rows. One thread, CPU time, fastest of 5.
# AVX-512 machine (Sapphire Rapids VM), 2 cores shared with three training runs.
cd "$(dirname "$0")/../../.."
BEFORE="${BEFORE:?path of the duel_bench built before the change}"
AFTER="${AFTER:-build-mpi/bench/duel_bench}"
for B in "$BEFORE" "$AFTER" "$BEFORE" "$AFTER"; do
  echo "\$ OPENBLAS_CORETYPE=SkylakeX OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $B --filter step --threads 1 --clock cpu --stat min --reps 5 --flops-per-cycle 64 --markdown"
  OPENBLAS_CORETYPE=SkylakeX OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $B --filter step --threads 1 --clock cpu --stat min --reps 5 --flops-per-cycle 64 --markdown | grep -E "^\| step"
  echo
done
