#!/usr/bin/env bash
# Stop 53: `base` (stop 52's head) against `head` (payment requests a run of
# `order.created`'s captures with one statement), alternated: five pairs at C = 50,
# then three at C = 10.
source /work/main/bench/ab-stop53/lib.sh
for rep in 1 2 3 4 5; do
  if (( rep % 2 )); then run pull base 50 $rep; run pull head 50 $rep
  else run pull head 50 $rep; run pull base 50 $rep; fi
done
for rep in 1 2 3; do
  if (( rep % 2 )); then run pull base 10 $rep; run pull head 10 $rep
  else run pull head 10 $rep; run pull base 10 $rep; fi
done
