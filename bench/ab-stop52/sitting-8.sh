#!/usr/bin/env bash
# After the review's mends (`final`, `e1af1fe`: payment counts after its commit, new
# payments go in in checkout order) against `head5`, C = 50, alternated.
source /work/main/bench/ab-stop52/lib.sh
for rep in 13 14; do
  run pull final 50 $rep
  run pull head5 50 $rep
done
