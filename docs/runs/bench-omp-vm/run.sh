#!/usr/bin/env bash
# The DQN update at 2 threads in a VM (docs/performance.md, "OpenMP in a VM: small ops on one
# thread"). Part 1: wall time of 4000 frames of `duel train dqn` (2000 random frames, then 2000
# updates) with 1 and 2 threads, before (OLD: the binary of f545c73, GEMMs and convolutions
# parallel from 1M multiply-adds, optimizers from 32k elements) and after (NEW: e41c0da,
# kParallelMacs = 8M, optimizers from 256k), with libgomp's default spinning and with
# GOMP_SPINCOUNT=1000. Part 2: the whole steps at 2 threads, duel (NEW) and libtorch in the same
# run, with both spin settings. Run on the idle 2-vCPU Sapphire Rapids VM (the training runs
# were paused with SIGSTOP while it ran).
cd "$(dirname "$0")/../../.."
OLD="${OLD:-runs/bin/duel-s12}"
NEW="${NEW:-build-mpi/duel}"
B="${B:-build-mpi/bench/duel_bench}"
for bin in "$OLD" "$NEW"; do
  for spin in default 1000; do
    for t in 1 2; do
      rm -rf /tmp/omp-vm-dqn
      if [[ $spin == default ]]; then e=(env); else e=(env GOMP_SPINCOUNT=$spin); fi
      s=$(date +%s.%N)
      "${e[@]}" "$bin" train dqn --env breakout --variant nature --steps 4000 --learning-starts 2000 \
        --sample-every 100000 --threads $t --out /tmp/omp-vm-dqn --quiet > /dev/null
      printf '%-22s spin %-7s threads %d: %6.2f s wall for 4000 frames\n' "$bin" $spin $t "$(echo "$(date +%s.%N) - $s" | bc)"
    done
  done
done
echo
for spin in default 1000; do
  if [[ $spin == default ]]; then e=(env); else e=(env GOMP_SPINCOUNT=$spin); fi
  echo "\$ ${e[*]} OPENBLAS_CORETYPE=SkylakeX OMP_NUM_THREADS=2 $B --filter step --threads 2 --reps 7 --flops-per-cycle 64 --markdown"
  "${e[@]}" OPENBLAS_CORETYPE=SkylakeX OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 $B --filter step --threads 2 --reps 7 --flops-per-cycle 64 --markdown
  echo
done
