#!/usr/bin/env bash
# Part 1: one streaming pull per subscription against two (CONSUMER_STREAMS), same build.
source /work/main/bench/ab-stop48/lib.sh
export LABEL_PREFIX=streams-
for rep in 1 2 3; do
  run streams 10 s1-$rep CONSUMER_STREAMS=1
  run streams 10 s2-$rep CONSUMER_STREAMS=2
done
for rep in 1 2; do
  run streams 50 s1-$rep CONSUMER_STREAMS=1
  run streams 50 s2-$rep CONSUMER_STREAMS=2
done
