#!/usr/bin/env bash
# Stop 54, part 5: two more emulator options on top of the parallel collector, C = 50:
# tenure after one young collection (the emulator keeps every message, so what survives
# one collection survives all), and the JVM sized for one processor (fewer threads).
SITTING=bench/ab-stop54
source "$(dirname "$0")/../sitting-lib.sh"
P=-XX:+UseParallelGC
for rep in 7 8 9; do
  CARTFLOW_EMULATOR_JAVA_OPTS="$P" run pull head 50 $rep -parallel
  CARTFLOW_EMULATOR_JAVA_OPTS="$P -XX:MaxTenuringThreshold=1" run pull head 50 $rep -tenure1
  CARTFLOW_EMULATOR_JAVA_OPTS="$P -XX:ActiveProcessorCount=1" run pull head 50 $rep -cpu1
done
