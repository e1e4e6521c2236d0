#!/usr/bin/env bash
# cluster_map_window.sh KIND : a placed image's 96 anonymous mappings of
# mixed sizes, answered on its node inside the mapping windows the origin
# grants (docs/dsm-protocol.md F9), with the mappings read by a forwarded
# call, by /proc/self/maps, by a fork's child, and changed by mprotect,
# madvise, munmap and MAP_FIXED (gp_map_window checks each). Placed on host
# 1 of 2: native's output, with windows and without (SPANVM_MAP_WINDOW=0);
# with them the node forwards at least 60 fewer calls
# (`node_syscalls_forwarded` in --json: one per mmap without).
. "$(dirname "$0")/lib.sh"
[ $# -eq 1 ] || fail "usage: $0 static|dynamic"
skip_in_native_mode "multi-host runs"
it_setup
prog="$(gp map_window "$1")"
native_ok map_window "$prog"
# forwarded W: the calls host 1 forwarded with SPANVM_MAP_WINDOW=W.
forwarded() { SPANVM_MAP_WINDOW="$1" run_placed "w$1" "SPANVM_MAP_WINDOW=$1" "$prog" node_syscalls_forwarded; }
on="$(forwarded 1)"
off="$(forwarded 0)"
it_log "placed: $on calls forwarded with mapping windows, $off without"
[ $((off - on)) -ge 60 ] || fail "mapping windows saved $((off - on)) forwarded calls of the ~96 mappings (at least 60 expected)"
pass "native and placed outputs agree; mapping windows: $on forwarded calls instead of $off"
