#!/usr/bin/env bash
# Stop 54, part 2: the same three collectors in the reverse order (the host drifted
# faster through part 1, which ran g1 first in every round).
SITTING=bench/ab-stop54
source "$(dirname "$0")/../sitting-lib.sh"
for rep in 4 5 6; do
  JAVA_TOOL_OPTIONS=-XX:+UseParallelGC run pull head 50 $rep -parallel
  JAVA_TOOL_OPTIONS=-XX:+UseSerialGC run pull head 50 $rep -serial
  JAVA_TOOL_OPTIONS= run pull head 50 $rep -g1
done
