#!/usr/bin/env bash
# Part 3b: the second C = 200 stale run (part 3's was lost to bench.sh's start-up race).
source /work/main/bench/ab-stop48/lib.sh
export LABEL_PREFIX=
LOAD_EXTRA=--no-analyze run analyze 200 stale-2
