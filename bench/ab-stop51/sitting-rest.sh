#!/usr/bin/env bash
# The sitting after its first round: `sitting.sh`'s first round ran clean, but its
# `relay` run could not start (the binary was missing) and left its emulator running,
# so every later run reused that emulator with the earlier runs' backlogs; those runs
# were discarded, `lib.sh` now stops any emulator before a run, and the rest ran here.
source /work/main/bench/ab-stop51/lib.sh
round 2
run push relay 50 1 -base
run pull gw 10 1
PUSH_GATHER_WINDOW_MS=5 run push64 gw 10 1 -w5
run push gw 10 1 -w0
PUSH_GATHER_WINDOW_MS=5 run push gw 10 1 -w5
run pull gw 10 2
PUSH_GATHER_WINDOW_MS=5 run push64 gw 10 2 -w5
