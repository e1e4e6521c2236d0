#!/usr/bin/env bash
# guest_fault.sh NAME KIND STATUS : a faulting guest program ends like it
# would on Linux: exit status STATUS (128 + signal). Under spanvm, stderr must
# be exactly one line, a report that contains "RIP".
. "$(dirname "$0")/lib.sh"
[ $# = 3 ] || fail "usage: $0 fault_NAME static|dynamic STATUS"
it_setup
prog="$(gp "$1" "$2")"
rc_of run_guest -- "$prog" >out 2>err
expect_rc "$RC" "$3" "$(mode_name) run of gp_$1_$2" err
if ! is_native; then
    n="$(line_count err)"
    [ "$n" = 1 ] || fail "fault report must be one stderr line, got $n:"$'\n'"$(show err)"
    expect_grep 'RIP' err "fault report"
fi
[ ! -s out ] || fail "faulting program wrote to stdout:"$'\n'"$(show out)"
pass "$(mode_name), status $RC"
