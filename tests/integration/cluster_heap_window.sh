#!/usr/bin/env bash
# cluster_heap_window.sh KIND : a placed image's break grown in 160 small
# steps, answered on its node inside the heap windows the origin grants
# (docs/dsm-protocol.md F8), with the heap read by a forwarded call, by
# /proc/self/maps, by a fork's child, past the break (SIGSEGV), under a
# mapping put above it, and after a shrink (gp_heap_window checks each).
# Placed on host 1 of 2: native's output, with windows and without
# (SPANVM_HEAP_WINDOW=0); with them the node forwards at least 100 fewer
# calls (`node_syscalls_forwarded` in --json: one per brk without).
. "$(dirname "$0")/lib.sh"
[ $# -eq 1 ] || fail "usage: $0 static|dynamic"
skip_in_native_mode "multi-host runs"
it_setup
prog="$(gp heap_window "$1")"
native_ok heap_window "$prog"
# forwarded W: the calls host 1 forwarded with SPANVM_HEAP_WINDOW=W.
forwarded() { SPANVM_HEAP_WINDOW="$1" run_placed "w$1" "SPANVM_HEAP_WINDOW=$1" "$prog" node_syscalls_forwarded; }
on="$(forwarded 1)"
off="$(forwarded 0)"
it_log "placed: $on calls forwarded with heap windows, $off without"
[ $((off - on)) -ge 100 ] || fail "heap windows saved $((off - on)) forwarded calls of the 160 brk growths (at least 100 expected)"
pass "native and placed outputs agree; heap windows: $on forwarded calls instead of $off"
