#!/usr/bin/env bash
# One load run with pg_stat_statements: where PostgreSQL's time goes per checkout.
# usage: profile.sh <bin> <concurrency> <label>
set -u
bin=$1; c=$2; label=$3
cd /work/main
source scripts/lib.sh
set +e
dir=/work/prof/pg; port=54329
if ! pg_isready -q -h 127.0.0.1 -p $port; then
  mkdir -p $dir/run; chown -R postgres $dir 2>/dev/null
  [[ -f $dir/data/PG_VERSION ]] || pg_run "$(pg_bin)/initdb" -D $dir/data -U postgres --auth=trust --encoding=UTF8 --no-locale > /dev/null
  pg_run "$(pg_bin)/pg_ctl" -D $dir/data -l $dir/server.log -o "-c listen_addresses=127.0.0.1 -p $port -k $dir/run -c max_connections=300 -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all ${PG_EXTRA:-}" -w start > /dev/null
fi
export DATABASE_URL=postgres://postgres@127.0.0.1:$port
P="psql -h 127.0.0.1 -p $port -U postgres -d postgres -Atq"
$P -c "SELECT datname FROM pg_database WHERE datname LIKE 'cartflow%'" | while read -r db; do $P -c "DROP DATABASE \"$db\" WITH (FORCE)"; done
$P -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"
# reset just after the warm-up: run load in background, reset at 10 s
( sleep 25; $P -c "SELECT pg_stat_statements_reset()" ; date +%T > /work/prof/$label.reset; /work/prof/sample.sh 25 /work/prof/$label.samples ) &
CARTFLOW_BIN=$bin CARTFLOW_EMULATOR_PORT=8185 scripts/bench.sh -c $c --duration 30 --warmup 10 --out /work/prof --label $label > /work/prof/$label.log 2>&1
$P -F $'\t' -c "SELECT d.datname, s.calls, round(s.total_exec_time::numeric,1) AS ms, round((s.total_exec_time/s.calls)::numeric,3) AS per, s.rows, left(regexp_replace(s.query, '\s+', ' ', 'g'), 160) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid ORDER BY s.total_exec_time DESC LIMIT 60" > /work/prof/$label.statements.tsv
echo done
