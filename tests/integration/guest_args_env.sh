#!/usr/bin/env bash
# guest_args_env.sh KIND : argv/env/auxv program. Its stdout under spanvm
# must equal the native run byte for byte (argv including odd strings, one
# environment variable); it checks the auxv/sysconf values itself.
. "$(dirname "$0")/lib.sh"
[ $# = 1 ] || fail "usage: $0 static|dynamic"
it_setup
prog="$(gp args_env "$1")"
args=(plain "two words" "" "tab	in" "ünïcödé" "--" "-x" "$(printf 'x%.0s' {1..300})")
export GP_TEST_VAR="value with spaces = and ünïcödé"
rc_of run_direct "$prog" "${args[@]}" >native.out 2>native.err
expect_rc "$RC" 0 "native run" native.err
rc_of run_guest -- "$prog" "${args[@]}" >guest.out 2>guest.err
expect_rc "$RC" 0 "$(mode_name) run" guest.err
expect_same_file guest.out native.out "stdout"
expect_grep "^GP_TEST_VAR=value with spaces" guest.out "env var"

# Unset variable is reported as such too (environment passes through as-is).
unset GP_TEST_VAR
rc_of run_guest -- "$prog" >guest2.out 2>guest2.err
expect_rc "$RC" 0 "$(mode_name) run without GP_TEST_VAR" guest2.err
expect_grep '^GP_TEST_VAR=\(unset\)$' guest2.out "unset env var"
pass "$(mode_name)"
