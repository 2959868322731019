#!/usr/bin/env bash
# Issue 14's status table (docs/performance.md, "Where issue 14's goals stand"): the whole
# training steps at one thread (CPU time, fastest of 7) and at two threads (wall clock, the
# fastest of 31 short repetitions: the busy-machine method of Table 2), the convolution
# layers, the recurrent layers and the GEMM rows at one thread; libtorch in the same runs, its
# OpenBLAS forced to the AVX-512 kernel. AVX-512 machine (Sapphire Rapids VM), 2 cores shared
# with training runs. The two-thread run only with TWO_THREADS=1 (it was run on its own, when
# the machine was quieter: output-2threads.txt).
cd "$(dirname "$0")/../../.."
B="${B:-build-mpi/bench/duel_bench}"
run() { echo "\$ OPENBLAS_CORETYPE=SkylakeX $*"; OPENBLAS_CORETYPE=SkylakeX "$@"; echo; }
run env OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $B --filter step --threads 1 --clock cpu --stat min --reps 7 --flops-per-cycle 64 --markdown
[[ -n "${TWO_THREADS:-}" ]] && run env OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 $B --filter step --threads 2 --stat min --min-time 1 --reps 31 --flops-per-cycle 64 --markdown
run env OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $B --filter conv --threads 1 --clock cpu --stat min --reps 7 --flops-per-cycle 64 --markdown
run env OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $B --filter matmul --threads 1 --clock cpu --stat min --reps 21 --flops-per-cycle 64 --markdown
run env OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $B --filter lstm --threads 1 --clock cpu --stat min --reps 5 --flops-per-cycle 64 --markdown
