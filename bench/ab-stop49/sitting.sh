#!/usr/bin/env bash
# One sitting, two builds alternated: `base` (fb0aebd, a delivery request per channel)
# and `head` (one delivery request per message, carrying both channels).
source /work/main/bench/ab-stop49/lib.sh
run pull base 50 1; run pull head 50 1
run pull head 50 2; run pull base 50 2
run push head 50 1; run push base 50 1
run pull base 200 1; run pull head 200 1
run pull head 10 1; run pull base 10 1
run push base 10 1; run push head 10 1
# Owed since stop 48: payment locking a batch's rows in checkout order (e805e06, in
# `base`) against the build before it (`d`, 3815448). `d` predates the load's ANALYZE,
# so both run without it (`d` has no such step; `base` is given `--no-analyze`).
run pull d 50 1 -stale; run pull base 50 1 -stale --no-analyze
run pull base 50 2 -stale --no-analyze; run pull d 50 2 -stale
# More of the main comparison, the first runs having spread widely.
run pull head 50 3; run pull base 50 3
run pull base 50 4; run pull head 50 4
run pull head 200 2; run pull base 200 2
