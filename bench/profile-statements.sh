#!/usr/bin/env bash
# One load run on a cluster with pg_stat_statements: every statement's calls and time
# over the measured window (reset at the warm-up's end), to count round trips per checkout.
# usage: SITTING=bench/ab-stopN profile-statements.sh <bin> <concurrency> <label>
# (output in $SITTING/prof/; the cluster stays up on port 54329: stop it before a sitting)
set -u
bin=$1; c=$2; label=$3
: "${SITTING:?set SITTING to the sitting folder}"
out=/work/main/$SITTING/prof; mkdir -p $out
cd /work/main
source scripts/lib.sh
set +e
pkill -f 'cloud-pubsub-emulator.*8185' 2>/dev/null
dir=/work/prof/pg; port=54329
if ! pg_isready -q -h 127.0.0.1 -p $port; then
  mkdir -p $dir/run; chown -R postgres $dir 2>/dev/null
  [[ -f $dir/data/PG_VERSION ]] || pg_run "$(pg_bin)/initdb" -D $dir/data -U postgres --auth=trust --encoding=UTF8 --no-locale > /dev/null
  pg_run "$(pg_bin)/pg_ctl" -D $dir/data -l $dir/server.log -o "-c listen_addresses=127.0.0.1 -p $port -k $dir/run -c max_connections=300 -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all" -w start > /dev/null
fi
export DATABASE_URL=postgres://postgres@127.0.0.1:$port
P="psql -h 127.0.0.1 -p $port -U postgres -d postgres -Atq"
$P -c "SELECT datname FROM pg_database WHERE datname LIKE 'cartflow%'" | while read -r db; do $P -c "DROP DATABASE \"$db\" WITH (FORCE)"; done
$P -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"
# Reset at the warm-up's end: 10 s after the load starts, and 1 s for the ANALYZE.
( for _ in $(seq 1500); do grep -q "starting the load" $out/$label.log 2>/dev/null && break; sleep 0.2; done
  sleep 11; $P -c "SELECT pg_stat_statements_reset()" > /dev/null; date +%T > $out/$label.reset ) &
CARTFLOW_BIN=$bin CARTFLOW_EMULATOR_PORT=8185 scripts/bench.sh -c $c --duration 30 --warmup 10 --out $out --label $label > $out/$label.log 2>&1
$P -F $'\t' -c "SELECT d.datname, s.calls, round(s.total_exec_time::numeric,1) AS ms, s.rows, left(regexp_replace(s.query, '\s+', ' ', 'g'), 140) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname LIKE 'cartflow%' ORDER BY s.calls DESC" > $out/$label.statements.tsv
echo done
