# This sitting's steps: bench/sitting-lib.sh (written from them later) with its output here.
SITTING=bench/ab-stop50
source /work/main/bench/sitting-lib.sh
