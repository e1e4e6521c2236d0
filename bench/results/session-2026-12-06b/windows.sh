#!/usr/bin/env bash
# windows.sh SPANVM OUTDIR [ROUNDS] : heap windows on against off
# (SPANVM_HEAP_WINDOW=1/0, docs/dsm-protocol.md F8) with one binary, the
# two interleaved: per round, `make -j2` of 16 files x 60 functions over
# 2 hosts x 1 core (--place-exec least-loaded) with each setting: wall,
# each CPU's busy seconds (/proc/stat), where each cc1 ran (0/1 in exec
# order) and the calls the placed cc1s forwarded (--json); then one placed
# cc1 of `cc -O2 -c` (round-robin: sh, true, cc at the origin... the cc1 on
# host 1) with each setting: its forwarded and node-answered calls, and its
# node's per-call line (-v).
default_rounds=3
. "$(dirname "$0")/common.sh"
: >"$out/windows.txt"
for r in $(seq "$rounds"); do
    for hw in 0 1; do
        printf 'round %s windows=%s: %s, cc1 nodes %s, forwarded by placed cc1s %s\n' "$r" "$hw" \
            "$(make_row env SPANVM_HEAP_WINDOW=$hw "$spanvm" run --local-hosts 2 --host-cpus 1 \
                --place-exec least-loaded --json "$w/j.json" -- make -s -C "$w/p" -j2)" \
            "$(jq -r '[.processes[]|select(.program=="cc1")|.node|tostring]|join("")' "$w/j.json")" \
            "$(jq '[.processes[]|select(.program=="cc1" and .node==1)|.node_syscalls_forwarded]|add' "$w/j.json")" |
            tee -a "$out/windows.txt"
    done
done
for hw in 0 1; do
    (cd "$w/p" && SPANVM_HEAP_WINDOW=$hw "$spanvm" -v run --local-hosts 2 --host-cpus 1 --place-exec round-robin \
        --json "$w/o.json" -- sh -c 'true; true; cc -O2 -c -o f0.o f0.c' 2>"$w/o.err" >/dev/null)
    echo "one placed cc1, windows=$hw: $(jq -c '[.processes[]|select(.program=="cc1")|{node, node_syscalls_forwarded, node_syscalls_local, node_pages_fetched}]' "$w/o.json")" | tee -a "$out/windows.txt"
    grep -o 'thread [0-9]*: [0-9]* forwarded: .*' "$w/o.err" | grep -v ' 0 forwarded' | sed "s/^/  windows=$hw /" | tee -a "$out/windows.txt"
done
