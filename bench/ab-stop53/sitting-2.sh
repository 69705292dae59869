#!/usr/bin/env bash
# Stop 53, part 2: `base` and `head` alternated at C = 200, two pairs.
source /work/main/bench/ab-stop53/lib.sh
run pull head 200 1; run pull base 200 1
run pull base 200 2; run pull head 200 2
