#!/usr/bin/env bash
# elu as one graph node with a three-pass first-order backward (docs/performance.md,
# "Implicit-GEMM convolution on the CPU", last paragraph): the BEGAN step (ELU autoencoder
# discriminator) with the binary before (BEFORE: duel_bench built from 725a53c's
# tensor/ops/elementwise.cpp, the composite elu) and after (AFTER), alternated twice, libtorch in
# the same runs; one thread, process CPU time, median of 7. Tables: python3 scripts/bench_ab.py
# docs/runs/bench-elu-fused/output.txt --label BIN
cd "$(dirname "$0")/../../.."
BEFORE="${BEFORE:-/tmp/bench-before}"
AFTER="${AFTER:-build-mpi/bench/duel_bench}"
for rep in 1 2; do
  for which in before after; do
    if [[ $which == before ]]; then b=$BEFORE; else b=$AFTER; fi
    echo "\$ BIN=$which OMP_NUM_THREADS=1 $b --threads 1 --clock cpu --filter began --markdown"
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 OPENBLAS_CORETYPE=SkylakeX "$b" --threads 1 --clock cpu --filter began --markdown
    echo
  done
done
