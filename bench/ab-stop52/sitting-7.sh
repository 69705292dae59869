#!/usr/bin/env bash
# `head5` (`head2`, and email-push sending up to SMTP_CONNECTIONS = 128 emails at once, each
# on a pooled connection, where 32 shared lettre's 10) against `head2`: C = 200, where
# email delivery fell behind, and C = 50, to see what it costs there.
source /work/main/bench/ab-stop52/lib.sh
for rep in 6 7; do
  run pull head5 200 $rep
  run pull head2 200 $rep
done
for rep in 11 12; do
  run pull head5 50 $rep
  run pull head2 50 $rep
done
