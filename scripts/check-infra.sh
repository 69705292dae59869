#!/usr/bin/env bash
# Checks the delivery files that cannot be run for real here (no Docker engine, no
# Terraform providers, no cloud account), and the live topology on the emulator:
#
#   0. the workspace's layers point down and the console runs no SQL of its own
#      (scripts/check_layers.py, from cargo metadata and console/src)
#   1. hadolint on the Dockerfile
#   2. actionlint and zizmor (offline) on .github/workflows
#   3. terraform/ parses as HCL and is built from topology.json; the compose file is
#      consistent (scripts/check_infra.py); `terraform fmt -check` when terraform exists;
#      the relative links of README.md, BENCHMARKS.md, docs/ and bench/ resolve
#      (scripts/check_links.py); docs/asyncapi.json is what `cartflow asyncapi` generates
#      (the cartflow binary scripts/test.sh built; `cargo run` builds it when missing)
#   4. checkov over terraform/: every finding fixed or skipped with a reason in place
#   5. data isolation: terraform/sql/bootstrap-database.sql applied to two throwaway
#      databases on the local PostgreSQL keeps a cart's login out of the customer's
#      (scripts/check-database-isolation.sh), and the check notices a missing REVOKE
#   6. a topology provisioned on the emulator, as `gcloud pubsub topics list` and
#      `gcloud pubsub subscriptions describe` show it, equals topology.json; and the
#      comparison notices a deleted subscription
#
# The tools are installed (pinned, scripts/infra-requirements.txt) into
# .work/venv-checks on first use. Needs the emulator at PUBSUB_EMULATOR_HOST (scripts/
# test.sh starts one) unless --static is given.
#
# Usage: scripts/check-infra.sh [--static]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

venv="$WORK_DIR/venv-checks"
requirements="scripts/infra-requirements.txt"
if ! cmp -s "$requirements" "$venv/requirements.txt" 2>/dev/null; then
  log "installing the infrastructure checkers into $venv (once; about a minute)"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$venv/requirements.txt"
fi
PATH="$venv/bin:$PATH"
cartflow=(cargo run --quiet -p cartflow --)

log "workspace layers (scripts/check_layers.py)"
cargo metadata --format-version 1 --no-deps --offline > "$WORK_DIR/metadata.json"
python3 scripts/check_layers.py --metadata "$WORK_DIR/metadata.json"
# The check must be able to fail: metadata doctored with one upward arrow
# (package, dependency, kind) must be refused.
refuses_arrow() {
  python3 - "$WORK_DIR/metadata.json" "$1" "$2" "$3" > "$WORK_DIR/metadata-doctored.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
package = next(p for p in m["packages"] if p["name"] == sys.argv[2])
package["dependencies"].append({"name": sys.argv[3], "kind": sys.argv[4]})
print(json.dumps(m))
PY
  ! python3 scripts/check_layers.py --metadata "$WORK_DIR/metadata-doctored.json" 2>/dev/null
}
refuses_arrow cartflow-events cart-service dev \
  || die "the layer check did not notice a foundation crate depending on a service"
refuses_arrow cartflow-console inventory-service normal \
  || die "the layer check did not notice the console linking a service"
mkdir -p "$WORK_DIR/console-src"
printf 'let _ = sqlx::query("SELECT * FROM reservations");\n' > "$WORK_DIR/console-src/timeline.rs"
! python3 scripts/check_layers.py --metadata "$WORK_DIR/metadata.json" \
  --console-src "$WORK_DIR/console-src" 2>/dev/null \
  || die "the layer check did not notice the console reading a service's table"

log "hadolint Dockerfile"
hadolint Dockerfile

log "actionlint .github/workflows"
actionlint

# zizmor audits the workflows' security (unpinned actions, credentials persisted by
# checkout, broad permissions, template injection...). --offline: no GitHub API. Any
# finding fails, informational ones too: each is fixed or answered in place with
# `# zizmor: ignore[<audit>]` and a reason (so high and medium ones certainly fail).
log "zizmor .github/workflows"
zizmor --offline --no-progress .github/workflows

log "terraform/ and docker-compose.emulator.yml structure"
python scripts/check_infra.py

log "links in README.md, BENCHMARKS.md, docs/ and bench/ (scripts/check_links.py)"
python3 scripts/check_links.py
# The check must be able to fail: a page with a missing file and a missing anchor.
broken="docs/.broken-link-probe.md"
printf '[gone](no-such-page.md) [anchor](../README.md#no-such-heading)\n' > "$broken"
if python3 scripts/check_links.py "$broken" 2>/dev/null; then
  rm -f "$broken"; die "the link check did not notice a broken link"
fi
rm -f "$broken"
if command -v terraform >/dev/null 2>&1; then
  terraform -chdir=terraform fmt -check -recursive 2>/dev/null \
    || die "terraform/ is not formatted: run terraform -chdir=terraform fmt -recursive"
fi

log "docs/asyncapi.json is current (cartflow asyncapi --check)"
"${cartflow[@]}" asyncapi --check docs/asyncapi.json
# The check must be able to fail: a copy in which one subscription's attempts changed.
python3 - docs/asyncapi.json > "$WORK_DIR/asyncapi-stale.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["operations"]["receive.cart.order.created"]["x-cartflow-subscription"]["max_delivery_attempts"] += 1
print(json.dumps(d, indent=2))
PY
if "${cartflow[@]}" asyncapi --check "$WORK_DIR/asyncapi-stale.json" 2>/dev/null; then
  die "the AsyncAPI check did not notice a stale docs/asyncapi.json"
fi

log "docs/configuration.md is current (cartflow config-reference --check)"
"${cartflow[@]}" config-reference --check docs/configuration.md

log "checkov terraform/"
# --skip-download: no calls to Prisma Cloud (the machine is offline, and a check must
# not depend on a vendor's API).
checkov --directory terraform --framework terraform --quiet --compact --skip-download

[ "${1:-}" = "--static" ] && exit 0

: "${DATABASE_URL:?PostgreSQL is needed: run through scripts/test.sh, or pass --static}"
log "database isolation on the local PostgreSQL (terraform/sql/bootstrap-database.sql)"
scripts/check-database-isolation.sh
# The check must be able to fail: without the REVOKE from PUBLIC, any login connects.
grep -v "REVOKE ALL ON DATABASE" terraform/sql/bootstrap-database.sql > "$WORK_DIR/bootstrap-without-revoke.sql"
if scripts/check-database-isolation.sh "$WORK_DIR/bootstrap-without-revoke.sql" >/dev/null 2>&1; then
  die "the isolation check did not notice a database left open to every login"
fi

: "${PUBSUB_EMULATOR_HOST:?the emulator is needed: run through scripts/test.sh, or pass --static}"
prefix="infra-$$-"
cleanup() { "${cartflow[@]}" teardown --yes --emulator "$PUBSUB_EMULATOR_HOST" --topic-prefix "$prefix" >/dev/null 2>&1 || true; }
trap cleanup EXIT
log "gcloud view of a provisioned topology (prefix $prefix)"
"${cartflow[@]}" provision --emulator "$PUBSUB_EMULATOR_HOST" --topic-prefix "$prefix" >/dev/null
scripts/pubsub-topology.sh --emulator "$PUBSUB_EMULATOR_HOST" --prefix "$prefix" --check > "$WORK_DIR/topology-view.txt" \
  || { cat "$WORK_DIR/topology-view.txt"; die "the emulator's topology differs from terraform/topology.json"; }
tail -1 "$WORK_DIR/topology-view.txt" >&2

# The comparison must be able to fail: remove one subscription and expect a difference.
CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB="http://$PUBSUB_EMULATOR_HOST/" CLOUDSDK_AUTH_DISABLE_CREDENTIALS=true \
  gcloud pubsub subscriptions delete "${prefix}cart.order.created" --project cartflow-local --quiet >/dev/null 2>&1
if scripts/pubsub-topology.sh --emulator "$PUBSUB_EMULATOR_HOST" --prefix "$prefix" --check >/dev/null 2>&1; then
  die "the topology check did not notice a deleted subscription"
fi
log "infrastructure checks passed"
