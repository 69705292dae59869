#!/usr/bin/env bash
# C = 10 again, `base` against `head2`: in parts 1 and 2 every `base` run was in the slow
# mode (p50 about 135 ms) and both `head2` runs in the fast one (about 97 ms).
source /work/main/bench/ab-stop52/lib.sh
for rep in 5 6 7; do
  run pull head2 10 $rep
  run pull base 10 $rep
done
