#!/usr/bin/env bash
# (run with the build of commit 0347f4f, copied to runs/bin/duel-s11b; the first 200 steps ran as --steps 2000 and were interrupted with Ctrl-C, then resumed)
# FCD of the DCGAN demo configuration at several lengths (one thread), resuming one run
cd "$(dirname "$0")/../../.."
for s in 800 1000 1200 1500 1800 2100 2400; do
  OMP_NUM_THREADS=1 build/duel train dcgan --steps $s --sample-every 250 --log-every 50 --out runs/demo-probe --quiet
  echo "== steps $s $(date -u +%H:%M:%S)"
  OMP_NUM_THREADS=1 build/duel eval runs/demo-probe | grep -iE "fcd|score"
done
