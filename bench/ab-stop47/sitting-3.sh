#!/bin/bash
# Part 3, after the worker's fix: beside (b) against beside with the hand-over whose
# worker no longer looks for due steps on a hand-over (d = 3815448; it also runs each
# service as its own login, which changes no statement). Files s3-*.
source "$(dirname "$0")/lib.sh"
export LABEL_PREFIX=s3-
run d 10 1; run b 10 1; run b 50 1; run d 50 1
run d 10 2; run b 10 2; run b 50 2; run d 50 2
echo SITTING-DONE
