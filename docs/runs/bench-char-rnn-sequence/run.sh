#!/usr/bin/env bash
# char-rnn's training speed before and after SkipRnn ran its LSTM layers as lstm_sequence nodes
# (gan/nets.cpp): 60 steps of the default model (2 LSTM layers of 128 with skip connections,
# truncated BPTT of 100 characters, batch 32, KJV) from scratch, one thread, the binaries
# alternated twice. Prints the run's CPU seconds and its last logged training loss (bits per
# character): the two binaries compute the same network up to float rounding.
cd "$(dirname "$0")/../../.."
BEFORE="${BEFORE:?path of the duel binary built before the change}"
AFTER="${AFTER:-build-mpi/duel}"
for B in "$BEFORE" "$AFTER" "$BEFORE" "$AFTER"; do
  out=$(mktemp -d)
  echo "\$ OMP_NUM_THREADS=1 $B train char-rnn --steps 60 --sample-every 1000 --log-every 20 --quiet"
  OMP_NUM_THREADS=1 "$B" train char-rnn --steps 60 --sample-every 1000 --log-every 20 --out "$out" --quiet
  grep -E '"cpu_seconds"' "$out/metrics.jsonl" | tail -1
  grep -E '"bpc"' "$out/metrics.jsonl" | tail -1
  echo
  rm -rf "$out"
done
