#!/usr/bin/env bash
# Stop 54: the emulator's JVM garbage collector, alternated on one build (C = 50).
# g1 is the JVM's default on this host; serial and parallel are set with JAVA_TOOL_OPTIONS.
SITTING=bench/ab-stop54
source "$(dirname "$0")/../sitting-lib.sh"
for rep in 1 2 3; do
  JAVA_TOOL_OPTIONS= run pull head 50 $rep -g1
  JAVA_TOOL_OPTIONS=-XX:+UseSerialGC run pull head 50 $rep -serial
  JAVA_TOOL_OPTIONS=-XX:+UseParallelGC run pull head 50 $rep -parallel
done
