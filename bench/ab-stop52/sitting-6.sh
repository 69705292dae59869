#!/usr/bin/env bash
# C = 200, email delivery: `head4` (`head3` with 128 sends in flight and as many SMTP
# connections, where 32 were) against `head3`.
source /work/main/bench/ab-stop52/lib.sh
run pull head4 200 5
run pull head3 200 5
