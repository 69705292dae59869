#!/usr/bin/env bash
# Stop 54: the emulator's JVM garbage collector, alternated on one build (C = 50).
# g1 is the JVM's default on this host (the option set empty).
# Run with JAVA_TOOL_OPTIONS before scripts/lib.sh had CARTFLOW_EMULATOR_JAVA_OPTS (and a
# default of its own); the same options now go through that, so the runs repeat as they were.
SITTING=bench/ab-stop54
source "$(dirname "$0")/../sitting-lib.sh"
for rep in 1 2 3; do
  CARTFLOW_EMULATOR_JAVA_OPTS= run pull head 50 $rep -g1
  CARTFLOW_EMULATOR_JAVA_OPTS=-XX:+UseSerialGC run pull head 50 $rep -serial
  CARTFLOW_EMULATOR_JAVA_OPTS=-XX:+UseParallelGC run pull head 50 $rep -parallel
done
