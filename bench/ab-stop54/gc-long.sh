#!/usr/bin/env bash
# Stop 54, part 6: one C = 50 run of 180 s measured on the parallel collector with the
# emulator's GC log (gc/gc-parallel-long.txt): when do full collections come, how long.
SITTING=bench/ab-stop54/gc
source "$(dirname "$0")/../sitting-lib.sh"
DURATION=180 \
  CARTFLOW_EMULATOR_JAVA_OPTS="-XX:+UseParallelGC -Xlog:gc:file=$PWD/$SITTING/gc-parallel-long.txt" \
  run pull head 50 1 -parallel-long
