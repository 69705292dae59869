#!/usr/bin/env bash
# Runs the whole platform locally: the Pub/Sub emulator and PostgreSQL (started here
# unless PUBSUB_EMULATOR_HOST / DATABASE_URL point at running ones), every service's
# database and migrations, the topology, all services, and a demo catalog.
# Prints the URLs and a walk-through. Ctrl-C stops everything this script started.
#
# Usage: scripts/dev.sh [cartflow dev options, e.g. --no-seed]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
start_infrastructure
log "building cartflow (release; the first build takes a few minutes)"
cargo build --release --quiet -p cartflow
# A second terminal finds this stack (not the defaults: PostgreSQL may be the private
# cluster on 54329) and the built binary: `source .work/dev.env`, then `cartflow …`.
cat > "$WORK_DIR/dev.env" <<ENV
export DATABASE_URL="$DATABASE_URL"
export PUBSUB_EMULATOR_HOST="$PUBSUB_EMULATOR_HOST"
export PUBSUB_PROJECT_ID="$PUBSUB_PROJECT_ID"
export PATH="$REPO_ROOT/target/release:\$PATH"
ENV
log "in another terminal: source .work/dev.env   (then e.g. cartflow dlq list, cartflow timeline <cart id>)"
# Not exec: the EXIT trap must run to stop the emulator and PostgreSQL afterwards.
"$REPO_ROOT/target/release/cartflow" dev "$@" &
child=$!
trap 'kill -INT $child 2>/dev/null; wait $child; exit 130' INT TERM
wait $child
