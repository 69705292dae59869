#!/usr/bin/env bash
# Push delivery's gathering (#39): the stack in push mode with the gatherer's default
# four batches in flight per service (`c4`) against one (`c1`, CONSUMER_MAX_CONCURRENCY=1,
# which in push mode only the gatherer reads), alternated, C = 50.
source /work/main/bench/ab-stop50/lib.sh
pair() {
  run push head 50 "$1" -c4
  CONSUMER_MAX_CONCURRENCY=1 run push head 50 "$1" -c1
}
pair 1; pair 2
