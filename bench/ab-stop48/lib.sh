# The sitting's shared steps: bench/sitting-lib.sh's cluster and fresh databases, and its
# own `run <build> <concurrency> <rep> [ENV=VALUE...]` with the build's release binary
# from /work/bench-bin/<build>/cartflow.
SITTING=bench/ab-stop48
source /work/main/bench/sitting-lib.sh
run() { # build concurrency rep [ENV=VALUE...]; LABEL_PREFIX tells the parts' files apart
  local build=$1 c=$2 rep=$3; shift 3
  drop_dbs
  env "$@" CARTFLOW_BIN=/work/bench-bin/$build/cartflow CARTFLOW_EMULATOR_PORT=8185 \
    scripts/bench.sh -c $c --duration 30 --warmup 10 --out bench/ab-stop48 --label ${LABEL_PREFIX}pull-c$c-$build-$rep ${LOAD_EXTRA:-} \
    > /tmp/sitting-$build-c$c-$rep.log 2>&1
  echo "$(date +%T) done ${LABEL_PREFIX}$build c$c rep$rep exit $?"
}
