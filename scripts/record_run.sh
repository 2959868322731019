#!/usr/bin/env bash
# Keeps the record of a run that a document quotes: its command, resolved options, metrics,
# evaluation output and pictures, in docs/runs/NAME/ (committed; checkpoints are not).
#
#   scripts/record_run.sh RUN_DIR NAME "COMMAND THAT TRAINED IT" [duel eval options]
#
# scripts/zoo_table.py builds the tables of docs/results.md from these records.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if (($# < 3)); then
  echo "usage: $0 RUN_DIR NAME COMMAND [eval options]" >&2
  exit 2
fi
RUN="$1"
NAME="$2"
COMMAND="$3"
shift 3
DUEL="${DUEL:-build/duel}"
OUT="docs/runs/$NAME"
[[ -f "$RUN/checkpoint.duel" ]] || { echo "$0: $RUN holds no checkpoint.duel" >&2; exit 1; }
mkdir -p "$OUT" docs/images
printf '%s\n' "$COMMAND" > "$OUT/command.txt"
cp "$RUN/config.txt" "$OUT/config.txt"
cp "$RUN/metrics.jsonl" "$OUT/metrics.jsonl"
"$DUEL" eval "$RUN" "$@" > "$OUT/eval.txt"
[[ -f "$RUN/samples_latest.png" ]] && cp "$RUN/samples_latest.png" "docs/images/$NAME.png"
[[ -f "$RUN/losses.png" ]] && cp "$RUN/losses.png" "docs/images/$NAME-losses.png"
echo "recorded $RUN as $OUT:"
cat "$OUT/eval.txt"
