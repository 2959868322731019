#!/usr/bin/env bash
# SeqGAN's runs for docs/results.md (seqgan-table) with the authors' policy-gradient step (the
# defaults since --pg-optimizer / --pg-loss / --grad-clip: its own Adam, the summed loss,
# gradients clipped at 5 in both phases): the adversarial arm and the continued-MLE baseline on
# seeds 0, 1 and 2 (each seed its own oracle, data and pre-training, shared by both arms), each
# recorded as docs/runs/seqgan-authors<SUFFIX>-<mode>-s<seed>/ by scripts/record_run.sh.
# Resumable, and several copies can run side by side (scripts/lib/run_queue.sh).
#
#   OMP_NUM_THREADS=1 nohup scripts/seqgan_runs.sh > runs/seqgan.log 2>&1 &
#
# Environment: MODES ("seqgan mle"), SEEDS ("0 1 2"), EXTRA (more options) with SUFFIX (added to
# the record's name), DUEL (build/duel), WAIT_FOR.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/run_queue.sh
MODES="${MODES:-seqgan mle}"
SEEDS="${SEEDS:-0 1 2}"
export DUEL="${DUEL:-build/duel}"
wait_for_machine
for seed in $SEEDS; do
  for mode in $MODES; do
    name="seqgan-authors${SUFFIX:-}-$mode-s$seed"
    out="runs/zoo4/$name"
    # shellcheck disable=SC2086
    run_recorded "$name" "docs/runs/$name/eval.txt" "$out" \
      "build/duel train seqgan --mode $mode --seed $seed ${EXTRA:-} --out $out" -- \
      train seqgan --mode "$mode" --seed "$seed" ${EXTRA:-} || true
  done
done
echo "== done ($(date -u +%H:%M))"
