#!/usr/bin/env bash
# Part 3: a second C = 200 pair, the other way round.
source /work/main/bench/ab-stop48/lib.sh
export LABEL_PREFIX=
run analyze 200 fresh-2
LOAD_EXTRA=--no-analyze run analyze 200 stale-2
