#!/usr/bin/env bash
# Applies terraform/sql/bootstrap-database.sql to every service's database: the roles
# and grants that keep each service in its own database (Terraform cannot express
# them). Run by the deploy workflow as the deployer, before `terraform apply` (for the
# users the state already has) and after it (for new ones); idempotent.
#
# Needs: terraform initialised in terraform/, gcloud signed in as the deployer, the
# cloud-sql-proxy, psql and jq on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

tf() { terraform -chdir=terraform "$@"; }
connection="$(tf output -raw database_instance 2>/dev/null || true)"
users="$(tf output -json database_users 2>/dev/null || true)"
deployer="$(tf output -raw database_deployer_user 2>/dev/null || true)"
if [ -z "$connection" ] || [ -z "$users" ] || [ -z "$deployer" ]; then
  echo "no database users in the state yet: nothing to grant before the first apply"
  exit 0
fi

# The deployer's IAM database user creates the roles: it needs cloudsqlsuperuser
# (the deployer holds roles/cloudsql.admin, which could do as much via the Admin API).
gcloud sql users assign-roles "$deployer" --instance="${connection##*:}" \
  --type=CLOUD_IAM_SERVICE_ACCOUNT --database-roles=cloudsqlsuperuser --quiet

port=55432
cloud-sql-proxy --auto-iam-authn --address 127.0.0.1 --port "$port" "$connection" &
proxy=$!
trap 'kill "$proxy" 2>/dev/null || true' EXIT
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p "$port" && break
  sleep 1
done

jq -r 'to_entries[] | [.key, .value.database, .value.user] | @tsv' <<<"$users" |
  while IFS=$'\t' read -r service database login; do
    echo "grants: ${service} → ${database} (${login})"
    psql "host=127.0.0.1 port=${port} dbname=postgres user=${deployer} sslmode=disable" \
      -X -q -v ON_ERROR_STOP=1 -v service="$service" -v db="$database" -v login="$login" \
      -f terraform/sql/bootstrap-database.sql
  done
