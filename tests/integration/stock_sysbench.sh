#!/usr/bin/env bash
# stock_sysbench.sh threads|mutex [HOSTS] : sysbench (LuaJIT, pthreads) must
# finish and print its summary; the total number of events is deterministic
# for these runs and must equal the native run's. With HOSTS, spanvm spans
# HOSTS hosts on this machine with four threads; otherwise two threads.
. "$(dirname "$0")/lib.sh"
[ $# -ge 1 ] || fail "usage: $0 threads|mutex [HOSTS]"
hosts_option "${2:-}"
it_setup
bin="$(tool sysbench)"
case "$1" in
# --thread-yields keeps the run short: every sched_yield is a VM exit.
threads) args=(threads --threads=$n --events=400 --thread-yields=100 --time=0 run) ;;
# Across hosts every lock hand-off moves a page: fewer locks per thread.
mutex) args=(mutex --threads=$n ${2:+--mutex-locks=2000} run) ;;
*) fail "unknown sysbench test $1" ;;
esac
rc_of run_direct "$bin" "${args[@]}" >native.out 2>native.err
expect_rc "$RC" 0 "native sysbench $1" native.err
rc_of run_guest "${opts[@]}" -- "$bin" "${args[@]}" >guest.out 2>guest.err
expect_rc "$RC" 0 "$(mode_name) sysbench $1" guest.err
for line in '^General statistics:' '^ +total time: +[0-9.]+s' '^ +total number of events: +[0-9]+' \
    '^Latency \(ms\):' '^ +avg: +[0-9.]+' '^Threads fairness:' "^Number of threads: $n\$"; do
    expect_grep "$line" guest.out "sysbench $1 summary"
done
events() { sed -n 's/^ *total number of events: *\([0-9]*\).*/\1/p' "$1"; }
[ -n "$(events native.out)" ] || fail "native run printed no event count"
[ "$(events guest.out)" = "$(events native.out)" ] ||
    fail "total number of events $(events guest.out), native $(events native.out)"
pass "$(mode_name), $(events guest.out) events"
