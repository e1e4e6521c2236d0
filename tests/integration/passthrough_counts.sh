#!/usr/bin/env bash
# passthrough_counts.sh KIND : native platform only. gp_passthrough_kick's
# loops make pass-through calls (getppid, getuid, getpgrp, sched_yield) at
# patched sites; the thread table (--json) must count every one of them in
# the thread's syscalls while only the kicks make it exit: a worker's
# syscalls_local - exits_syscall (the calls its patched sites answered
# without leaving the guest) is >= 200. With SPANVM_NATIVE_PASSTHROUGH=off
# every call exits, and the same figure must be 0 for every thread (the
# check fails where there is no fast path). Counts only, no timing.
. "$(dirname "$0")/lib.sh"
[ $# = 1 ] || fail "usage: $0 static|dynamic"
skip_in_native_mode "spanvm's thread table"
it_setup
prog="$(gp passthrough_kick "$1")"

# fast_calls JSON : the largest syscalls_local - exits_syscall of a thread.
fast_calls() { jq '[.threads[] | .syscalls_local - .exits_syscall] | max' "$1"; }

rc_of run_guest --json on.json -- "$prog" >out 2>err
expect_rc "$RC" 0 "run of gp_passthrough_kick_$1" err
expect_grep "^passthrough_kick: ok$" out "gp_passthrough_kick_$1 stdout"
on="$(fast_calls on.json)" || fail "no thread table in on.json"
[ "$on" -ge 200 ] || fail "pass-through on: a worker's fast calls = $on, want >= 200"

rc_of env SPANVM_NATIVE_PASSTHROUGH=off "$SPANVM" run --json off.json -- "$prog" >out 2>err
expect_rc "$RC" 0 "run of gp_passthrough_kick_$1 with SPANVM_NATIVE_PASSTHROUGH=off" err
off="$(fast_calls off.json)" || fail "no thread table in off.json"
[ "$off" = 0 ] || fail "pass-through off: syscalls_local - exits_syscall = $off, want 0"
pass "fast calls $on (off: $off)"
