#!/usr/bin/env bash
# im2col's table gather as a vector gather (kernels/cpu/conv.cpp, im2col_plane, `omp simd` for
# P >= 16), before and after: two builds of duel_bench (BEFORE, AFTER), alternated twice so that
# the machine's drift shows; duel only, one thread, CPU time, fastest of 7. AVX-512 machine
# (Sapphire Rapids VM), 2 cores shared with two training runs. Columns of output.txt, per row:
# before, after, before, after (ms).
cd "$(dirname "$0")/../../.."
BEFORE="${BEFORE:?path of the duel_bench built before the change}"
AFTER="${AFTER:-build-mpi/bench/duel_bench}"
for B in "$BEFORE" "$AFTER" "$BEFORE" "$AFTER"; do
  echo "== $B"
  OPENBLAS_CORETYPE=SkylakeX OMP_NUM_THREADS=1 $B --filter conv --threads 1 --clock cpu --stat min --reps 7 --no-torch |
    grep -E "^conv" | awk '{print $1, $2, $3, $(NF-3)}'
done
