#!/usr/bin/env bash
# Pull before (`base`, c3bb369: stop 51's head) and after (`head`: order rules on a
# batch's answers with three statements, payment reads a batch's payments with one),
# alternated in one sitting.
source /work/main/bench/ab-stop52/lib.sh
for rep in 1 2 3; do
  run pull base 50 $rep
  run pull head 50 $rep
done
for rep in 1 2; do
  run pull base 10 $rep
  run pull head 10 $rep
done
run pull base 200 1
run pull head 200 1
