#!/bin/bash
# One sitting: payment after the reservation (a = 5dea49d) against payment beside it
# (b = this stop's build), release builds alternated, fresh databases per run.
cd /work/main
source scripts/lib.sh
pg_cluster_start /work/main/.work/pg-bench 54329
export DATABASE_URL=postgres://postgres@127.0.0.1:54329
drop_dbs() {
  psql -h 127.0.0.1 -p 54329 -U postgres -d postgres -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'cartflow%'" \
    | while read -r db; do psql -h 127.0.0.1 -p 54329 -U postgres -d postgres -qc "DROP DATABASE \"$db\" WITH (FORCE)"; done
}
run() { # build concurrency rep
  drop_dbs
  CARTFLOW_BIN=/work/bench-bin/$1/cartflow CARTFLOW_EMULATOR_PORT=8185 \
    scripts/bench.sh -c $2 --duration 30 --warmup 10 --out bench/ab-stop47 --label pull-c$2-$1-$3 \
    > /tmp/sitting-$1-c$2-$3.log 2>&1
  echo "$(date +%T) done $1 c$2 rep$3 exit $?"
}
for rep in 1 2; do
  run a 10 $rep; run b 10 $rep
  run b 50 $rep; run a 50 $rep
done
run a 200 1; run b 200 1
echo SITTING-DONE
