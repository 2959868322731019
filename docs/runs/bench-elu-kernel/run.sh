#!/usr/bin/env bash
# elu's forward and first-order backward as one kernel each (UnaryOp::Elu, BinaryOp::EluBackward),
# before and after: two builds of duel_bench (BEFORE: the commit before; AFTER: the commit that
# makes the change), alternated three times, libtorch in the same runs (OpenBLAS forced to its
# AVX-512 kernel). One thread, CPU time, fastest of 7. The Sapphire Rapids VM, one core busy with
# a training run, the other with a build.
cd "$(dirname "$0")/../../.."
BEFORE="${BEFORE:?path of the duel_bench built before the change}"
AFTER="${AFTER:-build-mpi/bench/duel_bench}"
for B in "$BEFORE" "$AFTER" "$BEFORE" "$AFTER" "$BEFORE" "$AFTER"; do
  echo "\$ OPENBLAS_CORETYPE=SkylakeX OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $B --filter began --threads 1 --clock cpu --stat min --reps 7 --flops-per-cycle 64 --markdown"
  OPENBLAS_CORETYPE=SkylakeX OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$B" --filter began --threads 1 --clock cpu --stat min --reps 7 --flops-per-cycle 64 --markdown | grep -E "^\| step"
  echo
done
