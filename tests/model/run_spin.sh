#!/bin/sh
# Runs one spin verification of dsm.pml.
#   run_spin.sh <model.pml> <workdir> pass|fail [-DN=.. -DP=.. -DT=.. -DOPS=.. -DBUG_...]
# "pass": exhaustive search must finish with 0 errors (assertions and
# invalid end states = deadlock) and without hitting the depth limit.
# "fail": the search must report at least one error (planted bug caught).
set -eu
model=$1; work=$2; expect=$3; shift 3
rm -rf "$work" && mkdir -p "$work" && cd "$work"
cp "$model" dsm.pml
cp "$(dirname "$model")"/dsm_*.pml . 2>/dev/null || true  # files dsm.pml includes (dsm_steps.pml)
spin -a "$@" dsm.pml >spin.log 2>&1 || { cat spin.log; echo "run_spin: spin -a failed"; exit 1; }
# pan.c is one huge translation unit: cc -O2 spends ~100 s of CPU on it and
# -O0 ~8 s, while -O0 searches ~1.6x slower. Small models and planted bugs
# (searches of seconds) compile at -O0; the largest pass PAN_OPT=-O2.
cc "${PAN_OPT:--O0}" -w -DSAFETY -DCOLLAPSE -o pan pan.c || { echo "run_spin: compiling pan.c failed"; exit 1; }
./pan -m2000000 -w24 >pan.log 2>&1 || true
grep -E "errors:|states, stored|elapsed" pan.log || true
if grep -q "max search depth too small" pan.log; then
  echo "run_spin: search truncated by -m depth limit"; exit 1
fi
errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' pan.log | head -n1)
[ -n "$errors" ] || { cat pan.log; echo "run_spin: no result from pan"; exit 1; }
case $expect in
  pass) if [ "$errors" -ne 0 ]; then grep -E "pan:|assertion|invalid end" pan.log | head; spin -t -p -g "$@" dsm.pml 2>/dev/null | tail -n 60 || true; exit 1; fi ;;
  fail) if [ "$errors" -eq 0 ]; then echo "run_spin: planted bug was not detected"; exit 1; fi
        grep -E "^pan:[0-9]*: |invalid end state" pan.log | head -n 2 ;;
  *) echo "run_spin: expect pass|fail"; exit 2 ;;
esac
exit 0
