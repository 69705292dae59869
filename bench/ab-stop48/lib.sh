# The sitting's shared steps: a durable private PostgreSQL, fresh databases per run,
# one `scripts/bench.sh` run per call of `run <build> <concurrency> <rep> [ENV=VALUE...]`
# with the build's release binary from /work/bench-bin/<build>/cartflow.
cd /work/main
source scripts/lib.sh
set +e
pg_isready -q -h 127.0.0.1 -p 54329 || pg_cluster_start /work/main/.work/pg-bench 54329
export DATABASE_URL=postgres://postgres@127.0.0.1:54329
drop_dbs() {
  psql -h 127.0.0.1 -p 54329 -U postgres -d postgres -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'cartflow%'" \
    | while read -r db; do psql -h 127.0.0.1 -p 54329 -U postgres -d postgres -qc "DROP DATABASE \"$db\" WITH (FORCE)"; done
}
run() { # build concurrency rep [ENV=VALUE...]; LABEL_PREFIX tells the parts' files apart
  local build=$1 c=$2 rep=$3; shift 3
  drop_dbs
  env "$@" CARTFLOW_BIN=/work/bench-bin/$build/cartflow CARTFLOW_EMULATOR_PORT=8185 \
    scripts/bench.sh -c $c --duration 30 --warmup 10 --out bench/ab-stop48 --label ${LABEL_PREFIX}pull-c$c-$build-$rep ${LOAD_EXTRA:-} \
    > /tmp/sitting-$build-c$c-$rep.log 2>&1
  echo "$(date +%T) done ${LABEL_PREFIX}$build c$c rep$rep exit $?"
}
