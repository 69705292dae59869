#!/usr/bin/env bash
# The hot path in pull mode, before and after this stop, alternated in the same sitting
# (later the same evening): `relay` (stop 50's services) against `gw`. This stop changed
# only push mode's path (the gatherer, email-push's inline sends, the outbox's awaited
# work); this checks that pull did not move.
source /work/main/bench/ab-stop51/lib.sh
run pull relay 50 1 -base
run pull gw 50 3
run pull relay 50 2 -base
run pull gw 50 4
run pull relay 10 1 -base
run pull gw 10 3
