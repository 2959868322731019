#!/usr/bin/env bash
# AVX-512 machine (Sapphire Rapids VM), 2 cores shared with two training runs; 2026-12-06, after
# commit "bench: name OpenBLAS's kernel in the header" (the memory-bound rows: record bench-cpu-cache)
cd /work/main
B=build-mpi/bench/duel_bench
run() { echo "\$ $*"; env "$@"; echo; }
{
for g in avx512 avx2; do
  run OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $B --filter matmul --gemm $g --threads 1 --clock cpu --stat min --reps 21 --flops-per-cycle 64 --markdown
  run OPENBLAS_CORETYPE=SkylakeX OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $B --filter matmul --gemm $g --threads 1 --clock cpu --stat min --reps 21 --flops-per-cycle 64 --markdown
done
for f in "conv" "step"; do
  run OPENBLAS_CORETYPE=SkylakeX OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $B --filter "$f" --threads 1 --clock cpu --stat min --reps 9 --flops-per-cycle 64 --markdown
done
} 2>&1
