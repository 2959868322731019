# Sourced by the scripts that run a table's training runs (scripts/ssl_runs.sh, segan_runs.sh,
# seqgan_runs.sh): start when the machine is free, claim a run, train it, record it. Several
# copies of one script can run side by side (one per core): each claims a run with mkdir under
# runs/claims/ before starting it, a recorded run is skipped, and an interrupted one resumes
# from its checkpoint when the script is started again.
#
# Environment: DUEL (the binary; point it at a copy so that rebuilding does not change running
# jobs), WAIT_FOR (a pgrep -f pattern: wait_for_machine waits until no process matches it).

wait_for_machine() {
  if [[ -n "${WAIT_FOR:-}" ]]; then
    while pgrep -f "$WAIT_FOR" > /dev/null; do sleep 30; done
  fi
  mkdir -p runs/claims
}

# run_recorded NAME DONE_FILE OUT CMD -- DUEL_ARGS...
#   Trains with "$DUEL" DUEL_ARGS --out OUT --quiet unless DONE_FILE exists (recorded already)
#   or another copy has claimed NAME, then records the run as docs/runs/NAME with CMD (the
#   command as the docs quote it, `build/duel ...`). Status 0 when it recorded the run now,
#   1 when it skipped it or the training failed (the claim is released then).
run_recorded() {
  local name="$1" done_file="$2" out="$3" cmd="$4"
  shift 5  # and the "--"
  [[ -f "$done_file" ]] && return 1
  mkdir "runs/claims/$name" 2> /dev/null || return 1  # another copy has it
  mkdir -p "$(dirname "$out")"
  echo "== $name: $cmd  ($(date -u +%H:%M))"
  if ! "$DUEL" "$@" --out "$out" --quiet; then
    echo "== $name FAILED"
    rmdir "runs/claims/$name"
    return 1
  fi
  scripts/record_run.sh "$out" "$name" "OMP_NUM_THREADS=1 ${cmd//  / }"
}
