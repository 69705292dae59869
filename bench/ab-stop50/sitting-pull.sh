#!/usr/bin/env bash
# This stop's changes on the request path (the checkout's body read raw with a stricter
# card search, more of a line keeping its price): stop 49's head (`base`, 5ed314d)
# against this stop's (`head`), pull, alternated.
source /work/main/bench/ab-stop50/lib.sh
run pull base 50 1; run pull head 50 1
run pull head 50 2; run pull base 50 2
run pull base 10 1; run pull head 10 1
