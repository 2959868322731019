#!/usr/bin/env bash
# SEGAN's runs for docs/results.md (speech-table): the GAN (`--mode gan`, L1 + least-squares D)
# on seeds 0, 1 and 2, then the regression-only arm (`--mode l1`) on the same seeds, each recorded as
# docs/runs/segan[-l1]-sS/ by scripts/record_run.sh, with scripts/speech_eval.py's SSNR, PESQ
# and STOI of its enhanced test set (speech_eval.tsv) and its spectrogram picture. Resumable,
# and several copies can run side by side (scripts/lib/run_queue.sh).
#
#   OMP_NUM_THREADS=1 nohup scripts/segan_runs.sh > runs/segan.log 2>&1 &
#
# Needs the pairs of scripts/speech_data.py in data/speech (or $DUEL_SPEECH_DIR) and, for
# speech_eval.py, `pip install numpy scipy pesq pystoi`.
# Environment: MODES ("gan l1"), SEEDS ("0 1 2"), STEPS (2000), DUEL (build/duel), PYTHON
# (python3), WAIT_FOR.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/run_queue.sh
MODES="${MODES:-gan l1}"
SEEDS="${SEEDS:-0 1 2}"
STEPS="${STEPS:-2000}"
PYTHON="${PYTHON:-python3}"
export DUEL="${DUEL:-build/duel}"
wait_for_machine
for mode in $MODES; do
  for seed in $SEEDS; do
    name="segan-s$seed"
    [[ "$mode" == gan ]] || name="segan-$mode-s$seed"
    out="runs/zoo4/$name"
    run_recorded "$name" "docs/runs/$name/speech_eval.tsv" "$out" \
      "build/duel train segan --mode $mode --seed $seed --steps $STEPS --out $out" -- \
      train segan --mode "$mode" --seed "$seed" --steps "$STEPS" || continue
    "$PYTHON" scripts/speech_eval.py --data "${DUEL_SPEECH_DIR:-data/speech}" "$out" --out "docs/runs/$name/speech_eval.tsv"
    [[ -f "$out/spectrograms.png" ]] && cp "$out/spectrograms.png" "docs/images/$name-spectrograms.png"
  done
done
echo "== done ($(date -u +%H:%M))"
