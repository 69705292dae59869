#!/usr/bin/env bash
# Third part: more alternated pairs of `base` and `head2` at C = 50, the host being noisy.
source /work/main/bench/ab-stop52/lib.sh
for rep in 7 8 9 10; do
  run pull base 50 $rep
  run pull head2 50 $rep
done
