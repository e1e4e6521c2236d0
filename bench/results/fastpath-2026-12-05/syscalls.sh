#!/usr/bin/env bash
# Focused: the syscall figures only, before/after interleaved, 5 rounds.
L=/work/h-fast/build/bench/process/bench_syscall_loop
for round in 1 2 3 4 5; do
  for who in after before; do
    if [ $who = after ]; then bin=/work/h-fast/build/spanvm; else bin=/work/before-spanvm; fi
    g=$($bin run --platform native -- $L | jq .syscall_roundtrip_ns)
    p=$($bin run --platform native -- $L getpid | jq .syscall_roundtrip_ns)
    $bin bench-trap --json /tmp/hf-bench/trap.json >/dev/null 2>&1
    t=$(jq .bare_trap_ns /tmp/hf-bench/trap.json); h=$(jq .native_getppid_ns /tmp/hf-bench/trap.json)
    echo "{\"round\":$round,\"binary\":\"$who\",\"getppid_patched_ns\":$g,\"getpid_patched_ns\":$p,\"bare_trap_ns\":$t,\"host_getppid_ns\":$h}"
  done
done
