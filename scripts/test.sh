#!/usr/bin/env bash
# Runs every test: unit tests and the end-to-end tests against the real Pub/Sub
# emulator and PostgreSQL, which this script starts unless PUBSUB_EMULATOR_HOST /
# DATABASE_URL point at running ones. Each test isolates itself (its own databases,
# its own topic prefix), so a shared emulator or server is fine. The console's
# browser tests need Chromium and chromedriver, installed here when missing.
#
# Then, on a full run, scripts/check-infra.sh: hadolint, actionlint, Terraform and
# compose structure, checkov, and gcloud's view of a provisioned topology.
#
# Usage: scripts/test.sh [extra arguments for cargo nextest run / cargo test]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
export CARTFLOW_PG_FAST="${CARTFLOW_PG_FAST:-1}"
start_infrastructure
ensure_browser
status=0
# nextest runs each test in a process of its own, which the suite relies on (the
# metrics recorder and the tracing exporter are per process): installed when missing.
if ! cargo nextest --version >/dev/null 2>&1; then
  log "installing cargo-nextest (once; a few minutes)"
  cargo install cargo-nextest --locked --quiet || die "could not install cargo-nextest"
fi
# The end-to-end tests run the operator CLI as a process (the `cartflow` binary of the
# cli crate, which is not their own package, so cargo does not build it for them).
cargo build --quiet -p cartflow
cargo nextest run --workspace --no-fail-fast "$@" || status=$?
# A full run (no test filter given) also checks the delivery files and the
# emulator's view of the topology.
if [ $# -eq 0 ]; then
  scripts/check-infra.sh || status=$?
fi
exit $status
