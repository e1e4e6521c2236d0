#!/usr/bin/env bash
# cluster_windows.sh heap|map KIND : a placed image's layout changes that its
# node makes by itself inside the windows the origin grants, checked by a
# guest program that looks at them from every side; placed on host 1 of 2,
# native's output with the windows and without, and with them at least MIN
# fewer calls forwarded (`node_syscalls_forwarded` in --json).
#   heap  heap windows (docs/dsm-protocol.md F8), gp_heap_window: the break
#         grown in 160 small steps, read by a forwarded call, by
#         /proc/self/maps, by a fork's child, past the break (SIGSEGV),
#         under a mapping put above it, after a shrink; SPANVM_HEAP_WINDOW=0
#         turns them off (one forwarded call per brk); MIN 100.
#   map   mapping windows (F9), gp_map_window: 96 anonymous mappings of
#         mixed sizes, read by a forwarded call, by /proc/self/maps, by a
#         fork's child, changed by mprotect, madvise, munmap and MAP_FIXED;
#         SPANVM_MAP_WINDOW=0 turns them off (one forwarded call per mmap);
#         MIN 60.
. "$(dirname "$0")/lib.sh"
[ $# -eq 2 ] || fail "usage: $0 heap|map static|dynamic"
case "$1" in
heap) var=SPANVM_HEAP_WINDOW min=100 what="heap windows" ;;
map) var=SPANVM_MAP_WINDOW min=60 what="mapping windows" ;;
*) fail "usage: $0 heap|map static|dynamic" ;;
esac
skip_in_native_mode "multi-host runs"
it_setup
prog="$(gp "$1_window" "$2")"
native_ok "$1_window" "$prog"
# forwarded W: the calls host 1 forwarded with the windows on (1) or off (0).
forwarded() { (
    export "$var=$1"
    run_placed "w$1" "$var=$1" "$prog" node_syscalls_forwarded
); }
on="$(forwarded 1)"
off="$(forwarded 0)"
it_log "placed: $on calls forwarded with $what, $off without"
[ $((off - on)) -ge "$min" ] || fail "$what saved $((off - on)) forwarded calls (at least $min expected)"
pass "native and placed outputs agree; $what: $on forwarded calls instead of $off"
