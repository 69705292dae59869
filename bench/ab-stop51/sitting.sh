#!/usr/bin/env bash
# Push delivery (#39) with Pub/Sub's concurrency and a gathering window, one sitting:
# `gw` is this stop's build. C = 50, two
# rounds: pull; push from the emulator (two requests in flight per subscription) with
# the window off (w0) and at 5 ms (w5); push from the stack's pusher with 64 in flight
# per subscription, w0 and w5; the emulator's push with `relay` (this stop's first
# build: the stack's pusher, and services as stop 50's head). Then C = 10, one run each.
source /work/main/bench/ab-stop51/lib.sh
round "${1:-1}"; round "${2:-2}"
run pull gw 10 1
PUSH_GATHER_WINDOW_MS=5 run push64 gw 10 1 -w5
run push gw 10 1 -w0
PUSH_GATHER_WINDOW_MS=5 run push gw 10 1 -w5
