#!/usr/bin/env bash
# cluster_encrypt.sh NAME KIND : the self-checking guest program gp_NAME_KIND
# runs across 2 hosts (`spanvm run --local-hosts 2`) without and with
# --encrypt (every connection and syscall channel under AES-256-GCM): both
# runs exit 0 and print byte for byte the same stdout. GP_SCALE_DIV shrinks
# the contended loops as in cluster_selfcheck.sh.
. "$(dirname "$0")/lib.sh"
[ $# -ge 2 ] || fail "usage: $0 NAME static|dynamic"
skip_in_native_mode "multi-host runs"
it_setup
prog="$(gp "$1" "$2")"
export GP_SCALE_DIV="${GP_SCALE_DIV:-100}"
rc_of run_guest -t 240 --local-hosts 2 -- "$prog" >plain.out 2>plain.err
expect_rc "$RC" 0 "gp_$1_$2 across 2 hosts" plain.err
rc_of run_guest -t 240 --local-hosts 2 --encrypt -- "$prog" >enc.out 2>enc.err
expect_rc "$RC" 0 "gp_$1_$2 across 2 hosts with --encrypt" enc.err
expect_grep "^$1: ok" enc.out "gp_$1_$2 stdout with --encrypt"
cmp -s plain.out enc.out || fail "stdout differs with --encrypt:"$'\n'"$(diff plain.out enc.out | head -20)"
pass "2 hosts, --encrypt: $(wc -c <enc.out) bytes of stdout, equal"
