#!/usr/bin/env bash
# The MinAtar protocol's full length: Nature DQN for 5M frames on the five games (issue 14's goal;
# docs/rl.md, "MinAtar, Nature DQN at 5M frames"), each recorded as docs/runs/dqn-<game>-5m-s<seed>/
# by scripts/record_run.sh (its `duel eval` scores 100 greedy episodes of the last network).
# Resumable (a run continues from its checkpoint, every 50k frames), and several copies can run
# side by side, one per core (scripts/lib/run_queue.sh). One run is 80-110 CPU minutes.
#
#   OMP_NUM_THREADS=1 nohup scripts/dqn5m_runs.sh > runs/dqn5m.log 2>&1 &
#
# Environment: GAMES ("breakout space_invaders freeway asterix seaquest"), SEEDS ("0"),
# FRAMES (5000000), DUEL (build/duel), WAIT_FOR.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib/run_queue.sh
GAMES="${GAMES:-breakout space_invaders freeway asterix seaquest}"
SEEDS="${SEEDS:-0}"
FRAMES="${FRAMES:-5000000}"
export DUEL="${DUEL:-build/duel}"
wait_for_machine
for seed in $SEEDS; do
  for game in $GAMES; do
    name="dqn-$game-5m-s$seed"
    out="runs/rl/$name"
    run_recorded "$name" "docs/runs/$name/eval.txt" "$out" \
      "build/duel train dqn --env $game --variant nature --seed $seed --steps $FRAMES --out $out" -- \
      train dqn --env "$game" --variant nature --seed "$seed" --steps "$FRAMES" || true
  done
done
echo "== done ($(date -u +%H:%M))"
