#!/usr/bin/env bash
# guest_exit_status.sh KIND : the guest's exit code is spanvm's exit status,
# also when a non-main thread calls exit() (exit_group from another vCPU).
. "$(dirname "$0")/lib.sh"
[ $# = 1 ] || fail "usage: $0 static|dynamic"
it_setup
prog="$(gp exit_code "$1")"
for code in 0 1 42 200 255; do
    rc_of run_guest -- "$prog" "$code" >out 2>err
    expect_rc "$RC" "$code" "exit($code) from main" err
    rc_of run_guest -- "$prog" "$code" thread >out 2>err
    expect_rc "$RC" "$code" "exit($code) from a second thread" err
done
pass "$(mode_name)"
