#!/usr/bin/env bash
# The load benchmark, reproducible with one command: starts the Pub/Sub emulator and
# PostgreSQL (unless running), builds cartflow in release mode, runs the stack with one
# process per service (`cartflow stack`), drives it with `cartflow load`, then stops
# everything it started. Results: .work/bench/<label>.json and .svg; the stack's log
# in .work/bench/stack.log.
#
#   scripts/bench.sh -c 10 --duration 60          # one level
#   scripts/bench.sh -c 50 --duration 60
#   scripts/bench.sh --knee --p99-bound-ms 150    # raise C until p99 passes the bound
#   scripts/bench.sh --push -c 50                 # push delivery (the emulator pushes)
#   scripts/bench.sh --push-concurrency 16 -c 50  # push delivery, the stack pushing with
#                                                 # 16 in flight per subscription
#
# Options are `cartflow load`'s (cargo run -p cartflow -- load --help), after an
# optional `--push` (PUBSUB_DELIVERY=push PUSH_AUTH=none) or `--push-concurrency N`
# (the same, with the stack's pusher instead of the emulator's two pushes in flight
# per subscription). CARTFLOW_BIN runs that binary instead of building this checkout
# (an A/B sitting of two builds).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
stack_args=()
if [[ "${1:-}" == "--push" ]]; then
  shift
  export PUBSUB_DELIVERY=push PUSH_AUTH=none
elif [[ "${1:-}" == "--push-concurrency" ]]; then
  [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || die "--push-concurrency needs a number of requests (1 or more)"
  stack_args=(--push-concurrency "$2")
  shift 2
  export PUBSUB_DELIVERY=push PUSH_AUTH=none
fi
start_infrastructure
if [[ -n "${CARTFLOW_BIN:-}" ]]; then
  bin="$CARTFLOW_BIN"
  log "using $bin (CARTFLOW_BIN)"
else
  log "building cartflow (release)"
  cargo build --release --quiet -p cartflow
  bin="$REPO_ROOT/target/release/cartflow"
fi
log "delivery: ${PUBSUB_DELIVERY:-pull}${stack_args[1]:+ (the stack pushes, ${stack_args[1]} in flight per subscription)}"
mkdir -p "$WORK_DIR/bench"

# Emptied here, not by the redirection below: that happens in the background job, and
# the wait for "is running" could read the previous run's log first.
: > "$WORK_DIR/bench/stack.log"
"$bin" stack "${stack_args[@]}" > "$WORK_DIR/bench/stack.log" 2>&1 &
stack=$!
trap 'kill -INT $stack 2>/dev/null; wait $stack 2>/dev/null; stop_started' EXIT
deadline=$((SECONDS + 90))
until grep -q "is running" "$WORK_DIR/bench/stack.log"; do
  kill -0 "$stack" 2>/dev/null || { cat "$WORK_DIR/bench/stack.log"; die "the stack did not start"; }
  [ $SECONDS -lt $deadline ] || die "the stack was not ready in 90 s; see .work/bench/stack.log"
  sleep 0.5
done
log "stack running (one process per service); starting the load"
"$bin" load "$@"
