#!/usr/bin/env bash
# Stop 54, part 9: the parallel collector bounded: a 128 MiB young generation (its pauses
# copy what the emulator keeps, so they grow with it) and a 4 GiB heap from the start (a
# full collection only once 3.9 GiB of messages are held), against the JVM's own (G1),
# C = 50; then 180 s of it with the GC log.
SITTING=bench/ab-stop54
source "$(dirname "$0")/../sitting-lib.sh"
B="-XX:+UseParallelGC -Xmn128m -Xms4g"
for rep in 17 18 19; do
  if (( rep % 2 )); then
    CARTFLOW_EMULATOR_JAVA_OPTS= run pull head 50 $rep -g1; CARTFLOW_EMULATOR_JAVA_OPTS="$B" run pull head 50 $rep -pbounded
  else
    CARTFLOW_EMULATOR_JAVA_OPTS="$B" run pull head 50 $rep -pbounded; CARTFLOW_EMULATOR_JAVA_OPTS= run pull head 50 $rep -g1
  fi
done
SITTING=$SITTING/gc DURATION=180 \
  CARTFLOW_EMULATOR_JAVA_OPTS="$B -Xlog:gc:file=$PWD/bench/ab-stop54/gc/gc-pbounded-long.txt" \
  run pull head 50 1 -pbounded-long
