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
# Environment: MODES ("gan l1"), SEEDS ("0 1 2"), STEPS (2000), SUFFIX (added to the run's
# name, e.g. -6k for STEPS=6000), FROM (the suffix of a shorter run of the same mode and seed
# whose folder, if present, is copied first so that training continues from its checkpoint:
# resuming is bit-identical to an uninterrupted run, tests/train/test_resume.cpp; "" for the
# 2000-step runs), DUEL (build/duel), PYTHON (python3), WAIT_FOR.
#
#   STEPS=6000 SUFFIX=-6k FROM="" OMP_NUM_THREADS=1 nohup scripts/segan_runs.sh > runs/segan-6k.log 2>&1 &
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
    base="segan"
    [[ "$mode" == gan ]] || base="segan-$mode"
    name="$base${SUFFIX:-}-s$seed"
    out="runs/zoo4/$name"
    # one copy per run, whichever script gets there first (mkdir is the lock)
    if [[ -n "${FROM+set}" && ! -e "$out" && -f "runs/zoo4/$base${FROM}-s$seed/checkpoint.duel" \
          && ! -f "docs/runs/$name/speech_eval.tsv" ]] && mkdir -p runs/claims && mkdir "runs/claims/$name.copy" 2> /dev/null; then
      cp -r "runs/zoo4/$base${FROM}-s$seed" "$out.tmp" && mv "$out.tmp" "$out"
    fi
    run_recorded "$name" "docs/runs/$name/speech_eval.tsv" "$out" \
      "build/duel train segan --mode $mode --seed $seed --steps $STEPS --out $out" -- \
      train segan --mode "$mode" --seed "$seed" --steps "$STEPS" || continue
    "$PYTHON" scripts/speech_eval.py --data "${DUEL_SPEECH_DIR:-data/speech}" "$out" --out "docs/runs/$name/speech_eval.tsv"
    [[ -f "$out/spectrograms.png" ]] && cp "$out/spectrograms.png" "docs/images/$name-spectrograms.png"
  done
done
echo "== done ($(date -u +%H:%M))"
