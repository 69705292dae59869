#!/usr/bin/env bash
# Stop 54, part 3: one C = 50 run per collector with the emulator's GC log
# (gc/gc-<collector>.txt), to see where the collectors differ. Not in the tables.
SITTING=bench/ab-stop54/gc
source "$(dirname "$0")/../sitting-lib.sh"
CARTFLOW_EMULATOR_JAVA_OPTS="-XX:+UseParallelGC -Xlog:gc:file=$PWD/$SITTING/gc-parallel.txt" run pull head 50 1 -parallel-gclog
CARTFLOW_EMULATOR_JAVA_OPTS="-Xlog:gc:file=$PWD/$SITTING/gc-g1.txt" run pull head 50 1 -g1-gclog
