#!/bin/bash
# Part 2, right after: the build before payment (p = 1589336), beside (b) and beside
# with the handler's claim and hand-over (c = 35aa0d3), alternated. Files s2-*.
# As first started it wrote without the s2- prefix and overwrote part 1's
# pull-c10-b-1 (its numbers are in README.md); it was stopped after four runs, those
# renamed s2-*, and the rest run as below.
source "$(dirname "$0")/lib.sh"
export LABEL_PREFIX=s2-
# rep 1: p 10, b 10, c 10, c 50 ran before the stop.
run b 50 1; run p 50 1
run p 10 2; run b 10 2; run c 10 2
run c 50 2; run b 50 2; run p 50 2
run c 200 1; run p 200 1
echo SITTING-DONE
