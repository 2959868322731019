#!/usr/bin/env bash
# The measurements of docs/distributed.md: for every model of the zoo, the time of a training
# step on 1 rank and on 2 ranks with the same per-rank batch (weak scaling: 2 ranks train a
# global batch twice as large in the same step), and the bytes of gradient all-reduced per step.
#
#   bash dist/measure.sh [DUEL_BINARY] [STEPS] > measurements.tsv
#
# Each run is `mpirun -np R duel train MODEL --steps STEPS` with the model's defaults (images:
# Fashion-MNIST), one OpenMP thread per rank, rank 0's summary line parsed: "data-parallel: R
# ranks, X MB of gradients all-reduced per step in K collectives, Y ms per step on rank 0
# (training steps only)".
set -euo pipefail
DUEL="${1:-build-mpi/duel}"
STEPS="${2:-12}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMP_NUM_THREADS=1
MODELS="${MODELS:-vae gan wgan wgan-gp lsgan-qi ebgan began dcgan acgan infogan ssl-baseline sgan improved-gan triple-gan bad-gan dqn char-rnn seqgan chess-style segan}"
tmp="$(mktemp -d /tmp/duel-measure-XXXX)"
trap 'rm -rf "$tmp"' EXIT
printf "model\tranks\tMB_per_step\tcollectives_per_step\tms_per_step\n"
for m in $MODELS; do
  extra="" steps="$STEPS"
  # dqn: a step is a frame; an update every frame from the 32nd (the replay's first batch) on
  [[ $m == dqn ]] && extra="--env cartpole --learning-starts 0 --train-freq 1 --gradient-steps 1" steps=$((20 * STEPS + 32))
  # the semi-supervised models: the 100 labelled images hold at most 2 ranks x 50
  [[ $m == ssl-baseline || $m == sgan || $m == improved-gan || $m == triple-gan || $m == bad-gan ]] && extra="--batch 32"
  # wgan: the authors' 100-critic-step bursts of the first 25 iterations would dominate a short run
  [[ $m == wgan ]] && extra="--critic-burst 0"
  # seqgan: its adversarial steps (a pre-training step is a whole MLE epoch or D round)
  [[ $m == seqgan ]] && extra="--pretrain-g 0 --pretrain-d 0"
  for r in 1 2; do
    line=$(mpirun -np "$r" --oversubscribe --bind-to none "$DUEL" train "$m" --steps "$steps" --sample-every 1000000 \
      --no-resume --out "$tmp/$m-$r" $extra 2>&1 | grep "^data-parallel:" || true)
    mb=$(sed -E 's/.* ([0-9.]+) MB .*/\1/' <<<"$line")
    nc=$(sed -E 's/.* in ([0-9.]+) collectives.*/\1/' <<<"$line")
    ms=$(sed -E 's/.*, ([0-9.]+) ms per .*/\1/' <<<"$line")
    printf "%s\t%s\t%s\t%s\t%s\n" "$m" "$r" "${mb:-?}" "${nc:-?}" "${ms:-?}"
    rm -rf "$tmp/$m-$r"
  done
done
