#!/usr/bin/env bash
# Part 2, later the same afternoon: the first part's second half ran on a much noisier
# host, so more alternated pairs of the main comparison and of the owed one.
source /work/main/bench/ab-stop49/lib.sh
run pull base 50 5; run pull head 50 5
run pull head 50 6; run pull base 50 6
run pull base 50 7; run pull head 50 7
run pull base 50 3 -stale --no-analyze; run pull d 50 3 -stale
run pull d 50 4 -stale; run pull base 50 4 -stale --no-analyze
