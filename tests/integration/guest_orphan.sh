#!/usr/bin/env bash
# guest_orphan.sh KIND : gp_proc_orphan leaves a grandchild sleeping after its
# parent exited (an orphan) and ends. Under spanvm the run ends with the
# program: the orphan must be gone when spanvm has exited.
. "$(dirname "$0")/lib.sh"
[ $# = 1 ] || fail "usage: $0 static|dynamic"
it_setup
skip_in_native_mode "natively the orphan outlives the program"
prog="$(gp proc_orphan "$1")"
rc_of run_guest -- "$prog" >out 2>err
expect_rc "$RC" 0 "spanvm run of gp_proc_orphan_$1" err
pid="$(sed -n 's/^orphan \([0-9]*\)$/\1/p' out)"
[ -n "$pid" ] || fail "no 'orphan PID' line: $(show out)"
if kill -0 "$pid" 2>/dev/null; then
    kill -9 "$pid" 2>/dev/null || true
    fail "the orphan $pid outlived the run"
fi
pass "orphan $pid ended with the run"
