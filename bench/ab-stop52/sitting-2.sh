#!/usr/bin/env bash
# Second part: `head2` (`head`, and payment recording a batch's new payments and its
# provider answers with one statement each) against `base` and `head`, alternated.
source /work/main/bench/ab-stop52/lib.sh
for rep in 4 5 6; do
  run pull base 50 $rep
  run pull head 50 $rep
  run pull head2 50 $rep
done
for rep in 3 4; do
  run pull base 10 $rep
  run pull head2 10 $rep
done
run pull base 200 2
run pull head2 200 2
