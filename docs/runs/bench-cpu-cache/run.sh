#!/usr/bin/env bash
# The CPU caching allocator, before (DUEL_CPU_CACHE_MB=0: every large block from and back to
# glibc, as before) and after (the default 1024 MiB cache), the same binary, one after the other.
# AVX-512 machine (Sapphire Rapids VM), 2 cores shared with two training runs; the binary of the
# commit that adds the cache (which also changes the outer sum: the sum rows are not about the cache).
cd "$(dirname "$0")/../../.."
B=build-mpi/bench/duel_bench
for f in 4096 softmax 6272 lstm; do
  for mb in 0 1024; do
    echo "\$ DUEL_CPU_CACHE_MB=$mb OPENBLAS_CORETYPE=SkylakeX OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $B --filter $f --threads 1 --clock cpu --stat min --reps 9 --flops-per-cycle 64 --markdown"
    DUEL_CPU_CACHE_MB=$mb OPENBLAS_CORETYPE=SkylakeX OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $B --filter $f --threads 1 --clock cpu --stat min --reps 9 --flops-per-cycle 64 --markdown
    echo
  done
done
