#!/usr/bin/env bash
# This sitting's statement counts: bench/profile-statements.sh (written from this script
# later) with its output in prof/. usage: profile.sh <bin> <concurrency> <label>
SITTING=bench/ab-stop52 exec /work/main/bench/profile-statements.sh "$@"
