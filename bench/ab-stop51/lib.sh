# This sitting's steps: bench/sitting-lib.sh (written from them later) with its output
# here, and the round it ran.
SITTING=bench/ab-stop51
source /work/main/bench/sitting-lib.sh
# One round at C = 50: pull; the emulator's push without and with the window; the
# stack's pusher (64 in flight) without and with it; the emulator's push with `relay`.
round() {
  run pull gw 50 "$1"
  run push gw 50 "$1" -w0
  PUSH_GATHER_WINDOW_MS=5 run push gw 50 "$1" -w5
  run push64 gw 50 "$1" -w0
  PUSH_GATHER_WINDOW_MS=5 run push64 gw 50 "$1" -w5
  run push relay 50 "$1" -base
}
