#!/usr/bin/env bash
# Stop 54, part 8: G1 with -Xms2g (the working tree's default then, never committed;
# given explicitly now) against the JVM's own (CARTFLOW_EMULATOR_JAVA_OPTS set empty): C = 50 ×4 rounds, the
# order flipping each round, then C = 10 ×3 and C = 200 ×2 pairs.
SITTING=bench/ab-stop54
source "$(dirname "$0")/../sitting-lib.sh"
for rep in 13 14 15 16; do
  if (( rep % 2 )); then
    CARTFLOW_EMULATOR_JAVA_OPTS= run pull head 50 $rep -g1; CARTFLOW_EMULATOR_JAVA_OPTS=-Xms2g run pull head 50 $rep -g1xms2g
  else
    CARTFLOW_EMULATOR_JAVA_OPTS=-Xms2g run pull head 50 $rep -g1xms2g; CARTFLOW_EMULATOR_JAVA_OPTS= run pull head 50 $rep -g1
  fi
done
for rep in 4 5 6; do
  CARTFLOW_EMULATOR_JAVA_OPTS=-Xms2g run pull head 10 $rep -g1xms2g; CARTFLOW_EMULATOR_JAVA_OPTS= run pull head 10 $rep -g1
done
for rep in 3 4; do  # stopped during its first run: the sitting moved on to part 9
  CARTFLOW_EMULATOR_JAVA_OPTS= run pull head 200 $rep -g1; CARTFLOW_EMULATOR_JAVA_OPTS=-Xms2g run pull head 200 $rep -g1xms2g
done
