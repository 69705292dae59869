# This sitting's steps: bench/sitting-lib.sh with its output here.
SITTING=bench/ab-stop53
source /work/main/bench/sitting-lib.sh
