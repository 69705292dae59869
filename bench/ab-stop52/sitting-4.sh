#!/usr/bin/env bash
# C = 200, where email delivery fell behind `head2`'s checkouts: `head3` (`head2`, and
# email-push keeping as many SMTP connections as sends in flight, 32, where lettre's
# pool kept 10) against `head2`, alternated.
source /work/main/bench/ab-stop52/lib.sh
run pull head3 200 3
run pull head2 200 3
run pull head3 200 4
run pull head2 200 4
