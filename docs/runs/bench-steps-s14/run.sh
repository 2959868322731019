#!/usr/bin/env bash
# Every whole-step row with the session-14 binary (after the implicit-GEMM convolution, elu as
# one node, lstm_sequence), libtorch 1.13 in the same runs (OpenBLAS forced to its AVX-512
# kernel): one thread, process CPU time, fastest of 5, three runs. The Sapphire Rapids VM, both
# cores shared with two training runs and a build, so only the ratios are quoted.
cd "$(dirname "$0")/../../.."
B="${B:-build-mpi/bench/duel_bench}"
for rep in 1 2 3; do
  echo "\$ OPENBLAS_CORETYPE=SkylakeX OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $B --filter \"step \" --threads 1 --clock cpu --stat min --reps 5 --flops-per-cycle 64 --markdown"
  OPENBLAS_CORETYPE=SkylakeX OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$B" --filter "step " --threads 1 --clock cpu --stat min --reps 5 --flops-per-cycle 64 --markdown | grep -E "^\| step"
  echo
done
