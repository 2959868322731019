#!/usr/bin/env bash
# One LSTM layer as one lstm_sequence node (tensor/ops/rnn.cpp; nn::LSTM's input projections of
# all T steps in one GEMM, W_hh's gradient in one GEMM over all T*N rows), before and after:
# two builds of duel_bench (BEFORE: the commit before; AFTER: the commit that makes the change),
# alternated twice, with libtorch in the same runs. One thread, CPU time, fastest of 5. AVX-512
# machine (Sapphire Rapids VM), 2 cores, one shared with a training run.
cd "$(dirname "$0")/../../.."
BEFORE="${BEFORE:?path of the duel_bench built before the change}"
AFTER="${AFTER:-build-mpi/bench/duel_bench}"
for B in "$BEFORE" "$AFTER" "$BEFORE" "$AFTER"; do
  echo "\$ OPENBLAS_CORETYPE=SkylakeX OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $B --filter lstm --threads 1 --clock cpu --stat min --reps 5 --flops-per-cycle 64 --markdown"
  OPENBLAS_CORETYPE=SkylakeX OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $B --filter lstm --threads 1 --clock cpu --stat min --reps 5 --flops-per-cycle 64 --markdown | grep -E "^\| lstm"
  echo
done
