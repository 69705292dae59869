#!/usr/bin/env bash
# Stop 54, part 2: the same three collectors in the reverse order (the host drifted
# faster through part 1, which ran g1 first in every round).
# Run with JAVA_TOOL_OPTIONS before scripts/lib.sh had CARTFLOW_EMULATOR_JAVA_OPTS (and a
# default of its own); the same options now go through that, so the runs repeat as they were.
SITTING=bench/ab-stop54
source "$(dirname "$0")/../sitting-lib.sh"
for rep in 4 5 6; do
  CARTFLOW_EMULATOR_JAVA_OPTS=-XX:+UseParallelGC run pull head 50 $rep -parallel
  CARTFLOW_EMULATOR_JAVA_OPTS=-XX:+UseSerialGC run pull head 50 $rep -serial
  CARTFLOW_EMULATOR_JAVA_OPTS= run pull head 50 $rep -g1
done
