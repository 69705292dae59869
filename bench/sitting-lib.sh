# A sitting's shared steps, for the A/B sittings' scripts (bench/ab-*/): a durable
# private PostgreSQL on port 54329, fresh databases and a fresh emulator per run, and
# `run <mode> <build> <concurrency> <rep> [suffix [bench.sh arguments...]]`: one
# `scripts/bench.sh` run (DURATION seconds measured, default 30, after a 10 s warm-up)
# with the build's release binary from /work/bench-bin/<build>/cartflow, its JSON and SVG in $SITTING.
# mode: pull, push (the emulator pushes) or push<N> (the stack pushes, N in flight).
# Set SITTING (e.g. bench/ab-stop53) before sourcing.
: "${SITTING:?set SITTING to the sitting folder}"
cd /work/main
source scripts/lib.sh
set +e
pg_isready -q -h 127.0.0.1 -p 54329 || pg_cluster_start /work/main/.work/pg-bench 54329
export DATABASE_URL=postgres://postgres@127.0.0.1:54329
drop_dbs() {
  psql -h 127.0.0.1 -p 54329 -U postgres -d postgres -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'cartflow%'" \
    | while read -r db; do psql -h 127.0.0.1 -p 54329 -U postgres -d postgres -qc "DROP DATABASE \"$db\" WITH (FORCE)"; done
}
run() {
  local mode=$1 build=$2 c=$3 rep=$4 suffix=${5:-} flag=()
  shift 4; shift $(( $# > 0 ? 1 : 0 ))
  case "$mode" in
    pull) ;;
    push) flag=(--push) ;;
    push*) flag=(--push-concurrency "${mode#push}") ;;
  esac
  drop_dbs
  # A fresh emulator per run: one left running (by a run that failed) would carry its
  # backlog into the next.
  pkill -f 'pubsub-emulator.*--port=8185' && sleep 2
  CARTFLOW_BIN=/work/bench-bin/$build/cartflow CARTFLOW_EMULATOR_PORT=8185 \
    scripts/bench.sh "${flag[@]}" -c $c --duration ${DURATION:-30} --warmup 10 --out $SITTING --label $mode-c$c-$build$suffix-$rep "$@" \
    > /tmp/sitting-$mode-$build$suffix-c$c-$rep.log 2>&1
  local rc=$?
  echo "$(date +%T) done $mode $build$suffix c$c rep$rep exit $rc"
}
