#!/usr/bin/env bash
# Part 4, a what-if for the receipt decision: `noreceipt` (`analyze` with notification
# not subscribed to payment.captured: no receipt email or push) against `analyze`.
source /work/main/bench/ab-stop48/lib.sh
export LABEL_PREFIX=whatif-
run noreceipt 50 1; run analyze 50 1
run analyze 50 2; run noreceipt 50 2
run noreceipt 200 1; run analyze 200 1
