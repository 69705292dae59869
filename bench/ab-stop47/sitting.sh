#!/bin/bash
# Part 1: payment after the reservation (a = 5dea49d) against payment beside it
# (b = 5967e73), release builds alternated.
source "$(dirname "$0")/lib.sh"
for rep in 1 2; do
  run a 10 $rep; run b 10 $rep
  run b 50 $rep; run a 50 $rep
done
run a 200 1; run b 200 1
echo SITTING-DONE
