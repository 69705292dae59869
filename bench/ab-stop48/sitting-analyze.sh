#!/usr/bin/env bash
# Part 2: one build (`analyze`), measured with and without `ANALYZE` of the services'
# databases at the end of the warm-up (`cartflow load --no-analyze`).
source /work/main/bench/ab-stop48/lib.sh
export LABEL_PREFIX=
for rep in 1 2 3; do
  LOAD_EXTRA=--no-analyze run analyze 50 stale-$rep
  run analyze 50 fresh-$rep
done
for rep in 1 2; do
  LOAD_EXTRA=--no-analyze run analyze 10 stale-$rep
  run analyze 10 fresh-$rep
done
LOAD_EXTRA=--no-analyze run analyze 200 stale-1
run analyze 200 fresh-1
