#!/usr/bin/env bash
# Runs every test: unit tests and the end-to-end tests against the real Pub/Sub
# emulator and PostgreSQL, which this script starts unless PUBSUB_EMULATOR_HOST /
# DATABASE_URL point at running ones. Each test isolates itself (its own databases,
# its own topic prefix), so a shared emulator or server is fine.
#
# Usage: scripts/test.sh [extra arguments for cargo nextest run / cargo test]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
trap stop_started EXIT

export CARTFLOW_PG_FAST="${CARTFLOW_PG_FAST:-1}"
ensure_emulator
ensure_postgres
cd "$REPO_ROOT"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast "$@"
else
  log "cargo-nextest not found; using cargo test"
  cargo test --workspace --no-fail-fast "$@"
fi
