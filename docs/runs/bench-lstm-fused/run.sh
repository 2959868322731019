#!/usr/bin/env bash
# The fused LSTM cell (tensor/ops/rnn.cpp, kernels/cpu/rnn.cpp) and the in-place summing of a
# node's incoming gradients (autograd/engine.cpp), before and after: two builds of duel_bench
# (BEFORE: the commit before; AFTER: the commit that makes both changes), alternated twice,
# with libtorch in the same runs. One thread, CPU time, fastest of 5. AVX-512 machine (Sapphire
# Rapids VM), 2 cores shared with two training runs.
cd "$(dirname "$0")/../../.."
BEFORE="${BEFORE:?path of the duel_bench built before the change}"
AFTER="${AFTER:-build-mpi/bench/duel_bench}"
for B in "$BEFORE" "$AFTER" "$BEFORE" "$AFTER"; do
  echo "\$ OPENBLAS_CORETYPE=SkylakeX OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $B --filter \"lstm|gru\" --threads 1 --clock cpu --stat min --reps 5 --flops-per-cycle 64 --markdown"
  for f in lstm gru; do
    OPENBLAS_CORETYPE=SkylakeX OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $B --filter $f --threads 1 --clock cpu --stat min --reps 5 --flops-per-cycle 64 --markdown | grep -E "^\| (lstm|gru)"
  done
  echo
done
