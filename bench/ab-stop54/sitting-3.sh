#!/usr/bin/env bash
# Stop 54, part 4: C = 10 and C = 200, the emulator on the JVM's default collector (g1,
# CARTFLOW_EMULATOR_JAVA_OPTS set empty) against parallel (scripts/lib.sh's default then,
# given explicitly now).
SITTING=bench/ab-stop54
source "$(dirname "$0")/../sitting-lib.sh"
for rep in 1 2 3; do
  CARTFLOW_EMULATOR_JAVA_OPTS= run pull head 10 $rep -g1
  CARTFLOW_EMULATOR_JAVA_OPTS=-XX:+UseParallelGC run pull head 10 $rep -parallel
done
for rep in 1 2; do
  CARTFLOW_EMULATOR_JAVA_OPTS=-XX:+UseParallelGC run pull head 200 $rep -parallel
  CARTFLOW_EMULATOR_JAVA_OPTS= run pull head 200 $rep -g1
done
