#!/usr/bin/env bash
# Stop 54, part 7: G1 with a 2 GiB heap from the start (-Xms2g: fewer marking cycles
# than on the small heap G1 picks itself) against the parallel collector, C = 50; then
# 180 s of it with the GC log, as gc-long.sh did for the parallel collector.
SITTING=bench/ab-stop54
source "$(dirname "$0")/../sitting-lib.sh"
for rep in 10 11 12; do
  CARTFLOW_EMULATOR_JAVA_OPTS="-XX:+UseParallelGC" run pull head 50 $rep -parallel
  CARTFLOW_EMULATOR_JAVA_OPTS="-Xms2g" run pull head 50 $rep -g1xms2g
done
SITTING=$SITTING/gc DURATION=180 \
  CARTFLOW_EMULATOR_JAVA_OPTS="-Xms2g -Xlog:gc:file=$PWD/bench/ab-stop54/gc/gc-g1xms2g-long.txt" \
  run pull head 50 1 -g1xms2g-long
