#!/usr/bin/env bash
# cluster_arg_capture.sh KIND : a placed image's calls whose guest memory its
# node captures (vmm/cluster/arg_rules.hpp; docs/architecture/processes.md,
# "A deputy call, traced") give what Linux gives. gp_placed_calls_KIND
# (fstat/newfstatat/statx, readlink, getdents64, getcwd, pipe2, socketpair,
# writev, ioctl, rt_sigaction, rt_sigprocmask and sigaltstack with input
# and output at one address, prlimit64, uname, sysinfo, wait4, ...: each
# output buffer starts as a canary, and what Linux leaves alone must stay
# so) placed on host 1 of 2 prints what it prints natively and unplaced.
# And its node fetches no page per call: placed with 1000 fstat calls first,
# whose struct the program reads back on its stack, its node fetches fewer
# than 100 pages more than with 1 (`node_pages_fetched` in --json; without
# the capture each call moved the stack page to the deputy and back).
. "$(dirname "$0")/lib.sh"
[ $# -eq 1 ] || fail "usage: $0 static|dynamic"
skip_in_native_mode "multi-host runs"
it_setup
prog="$(gp placed_calls "$1")"
native_ok placed_calls "$prog"
rc_of run_guest --local-hosts 2 -- "$prog" >unplaced.out 2>unplaced.err
expect_rc "$RC" 0 "unplaced run on 2 hosts" unplaced.err
expect_same_file unplaced.out native.out "unplaced output"
# fetched N: the pages host 1 fetched (and the calls it forwarded) while the
# placed program ran with N fstat calls first.
fetched() { run_placed "placed$1" "$1 fstat calls first" "$prog $1" node_pages_fetched node_syscalls_forwarded; }
read -r f1 c1 <<<"$(fetched 1)"
read -r f1000 c1000 <<<"$(fetched 1000)"
it_log "placed: 1 fstat first: $f1 pages fetched, $c1 calls forwarded; 1000 first: $f1000 fetched, $c1000 forwarded"
[ $((c1000 - c1)) -ge 999 ] || fail "1000 fstat calls forwarded only $((c1000 - c1)) more calls than 1"
[ $((f1000 - f1)) -lt 100 ] || fail "1000 fstat calls made host 1 fetch $((f1000 - f1)) more pages than 1"
pass "native, unplaced and placed outputs agree; 999 more forwarded fstat calls, $((f1000 - f1)) more pages fetched"
