#!/usr/bin/env bash
# Data isolation, on the local PostgreSQL: applies terraform/sql/bootstrap-database.sql
# (the roles and grants the deploy applies in Cloud SQL) to two throwaway databases, a
# cart's and a customer's, each with its own login, and checks what Cloud SQL relies on:
#   - the cart's login connects to its own database, migrates (as the owner role) and
#     writes there;
#   - it cannot connect to the customer's database (CONNECT revoked from PUBLIC);
#   - it cannot grant itself the customer's roles, nor create a role or a database.
# Each check must fail to pass; any surprise fails the script. Everything it creates is
# dropped at exit.
#
# Usage: scripts/check-database-isolation.sh [SQL file, default terraform/sql/bootstrap-database.sql]
# Needs psql and a PostgreSQL superuser at DATABASE_URL (scripts/test.sh starts the
# private cluster; trust authentication there lets the test sign in as each login).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
: "${DATABASE_URL:?a PostgreSQL server is needed: run through scripts/test.sh}"
cd "$REPO_ROOT"

sql="${1:-terraform/sql/bootstrap-database.sql}"
id="iso$$"
cart_db="${id}_cartflow_cart"
customer_db="${id}_cartflow_customer"
cart_login="${id}_cart_login"
customer_login="${id}_customer_login"
as() { # login database sql...: signs in as that login (the URL's user replaced)
  local login=$1 db=$2; shift 2
  local url
  url=$(sed -E "s#^(postgres(ql)?://)([^@/]*@)?#\1${login}@#" <<<"$DATABASE_URL")
  psql "$url/$db" -X -q -At -v ON_ERROR_STOP=1 -c "$*" 2>&1
}
admin() { psql "$DATABASE_URL/postgres" -X -q -At -v ON_ERROR_STOP=1 -c "$*" >/dev/null; }
cleanup() {
  for db in "$cart_db" "$customer_db"; do admin "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true; done
  for role in "$cart_login" "$customer_login" \
    "cartflow_${id}_cart_owner" "cartflow_${id}_cart_app" \
    "cartflow_${id}_customer_owner" "cartflow_${id}_customer_app"; do
    admin "DROP ROLE IF EXISTS $role" || true
  done
}
trap cleanup EXIT
export PGOPTIONS="-c client_min_messages=warning"

# Cloud SQL's role that its built-in users join (CREATEROLE, CREATEDB); the script's
# last check refuses any service role in it, so it must exist here too.
admin "DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cloudsqlsuperuser') THEN
    CREATE ROLE cloudsqlsuperuser NOLOGIN CREATEROLE CREATEDB;
  END IF; END \$\$"

for svc in cart customer; do
  db="${id}_cartflow_${svc}"
  login="${id}_${svc}_login"
  admin "CREATE DATABASE $db"
  admin "CREATE ROLE $login LOGIN"
  psql "$DATABASE_URL/postgres" -X -q -v ON_ERROR_STOP=1 -v service="${id}-${svc}" \
    -v db="$db" -v login="$login" -f "$sql" >/dev/null \
    || die "bootstrap-database.sql failed for $svc"
done

# Its own database: it migrates (tables owned by the owner role) and writes.
as "$cart_login" "$cart_db" "CREATE TABLE carts (id int PRIMARY KEY); INSERT INTO carts VALUES (1)" >/dev/null \
  || die "the cart's login cannot migrate and write its own database"
owner=$(as "$cart_login" "$cart_db" "SELECT tableowner FROM pg_tables WHERE tablename = 'carts'")
[[ "$owner" == "cartflow_${id}_cart_owner" ]] || die "the cart's table is owned by $owner, not the owner role"

# Another service's database: no connection at all.
if out=$(as "$cart_login" "$customer_db" "SELECT 1"); then
  die "the cart's login connected to the customer database"
fi
grep -q "permission denied for database" <<<"$out" || die "unexpected refusal: $out"

# Roles: it can grant itself nothing and create nothing.
if out=$(as "$cart_login" "$cart_db" "GRANT cartflow_${id}_customer_app TO $cart_login"); then
  die "the cart's login granted itself the customer's role"
fi
if as "$cart_login" "$cart_db" "CREATE ROLE ${id}_intruder" >/dev/null; then
  admin "DROP ROLE IF EXISTS ${id}_intruder"
  die "the cart's login created a role"
fi
if as "$cart_login" "$cart_db" "CREATE DATABASE ${id}_intruder" >/dev/null; then
  admin "DROP DATABASE IF EXISTS ${id}_intruder"
  die "the cart's login created a database"
fi
log "database isolation: the cart's login reaches only its own database and grants itself nothing"
