#!/usr/bin/env bash
# The implicit-GEMM convolution on the CPU (docs/performance.md, "Implicit-GEMM convolution on
# the CPU"): every DCGAN and DQN convolution pass and every whole training step, with the
# previous path (DUEL_IMPL=cpu:conv2d=im2col) and the new default (implicit), libtorch 1.13 in
# the same runs (OpenBLAS forced to its AVX-512 kernel). Part 1: one thread, process CPU time,
# the two paths alternated (conv rows twice, steps three times). Part 2: the steps at 2 threads,
# wall clock, fastest of 11, the paths alternated twice, with libgomp's spinning shortened (fair
# to both libraries: "OpenMP in a VM"), run
# on the idle VM (the training runs paused with SIGSTOP).
cd "$(dirname "$0")/../../.."
B="${B:-build-mpi/bench/duel_bench}"
export OPENBLAS_CORETYPE=SkylakeX
one() {  # ALGO ARGS...
  local algo=$1
  shift
  echo "\$ DUEL_IMPL=cpu:conv2d=$algo OMP_NUM_THREADS=1 $B $*"
  DUEL_IMPL=cpu:conv2d=$algo OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$B" "$@"
  echo
}
if [[ "${PART:-all}" != 2 ]]; then
  for rep in 1 2; do
    for algo in im2col implicit; do one $algo --threads 1 --clock cpu --filter conv --markdown; done
  done
  for rep in 1 2 3; do
    for algo in im2col implicit; do one $algo --threads 1 --clock cpu --filter "step " --markdown; done
  done
fi
if [[ "${PART:-all}" != 1 ]]; then
  pids=$(pgrep -f " train dqn" || true)
  [[ -n "$pids" ]] && kill -STOP $pids
  for rep in 1 2; do
    for algo in im2col implicit; do
      echo "\$ GOMP_SPINCOUNT=1000 DUEL_IMPL=cpu:conv2d=$algo OMP_NUM_THREADS=2 $B --filter step --threads 2 --stat min --reps 11 --markdown"
      GOMP_SPINCOUNT=1000 DUEL_IMPL=cpu:conv2d=$algo OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 "$B" --filter "step " --threads 2 \
        --stat min --reps 11 --markdown
      echo
    done
  done
  [[ -n "$pids" ]] && kill -CONT $pids
fi
