#!/usr/bin/env bash
# guest_selfcheck.sh NAME KIND : the self-checking guest program gp_NAME_KIND
# must exit 0 (it verifies its own results and prints "NAME: ok").
. "$(dirname "$0")/lib.sh"
[ $# = 2 ] || fail "usage: $0 NAME static|dynamic"
it_setup
prog="$(gp "$1" "$2")"
rc_of run_guest -- "$prog" >out 2>err
expect_rc "$RC" 0 "$(mode_name) run of gp_$1_$2" err
expect_grep "^$1: ok$" out "gp_$1_$2 stdout"
pass "$(mode_name)"
