#!/usr/bin/env bash
# zero_fill.sh SPANVM OUTDIR [ROUNDS] : a deputy's origin without
# zero-fill-ahead (the default since 2026-12-06) against with it
# (SPANVM_DSM_TUNING=zero_fill=512 on every engine: the node's default,
# and what the deputy's origin had), one binary, interleaved with the
# order alternating: pages fetched by a placed /bin/true and cc1, then
# `make -j2` of 16 files x 60 functions over 2 hosts x 1 core: wall, each
# CPU's busy seconds, pages host 1 fetched per build.
default_rounds=4
. "$(dirname "$0")/common.sh"
run() {  # run with|without ARGS...
    if [ "$1" = with ]; then shift; SPANVM_DSM_TUNING=zero_fill=512 "$spanvm" "$@"; else shift; "$spanvm" "$@"; fi
}
: >"$out/zero_fill.txt"
for mode in without with; do
    (cd "$w/p" && run "$mode" run --local-hosts 2 --host-cpus 1 --place-exec round-robin --json "$w/o.json" -- \
        sh -c '/bin/true; /bin/true; cc -O2 -c -o f0.o f0.c' >/dev/null 2>&1)
    echo "deputy zero-fill-ahead $mode: placed (program, pages fetched, calls forwarded): $(jq -c '[.processes[]|select(.node==1)|[.program,.node_pages_fetched,.node_syscalls_forwarded]]' "$w/o.json")" |
        tee -a "$out/zero_fill.txt"
done
for r in $(seq "$rounds"); do
    order="without with"; [ $((r % 2)) = 0 ] && order="with without"
    for mode in $order; do
        printf 'round %s deputy zero-fill-ahead %-7s: %s, cc1 nodes %s, host 1 pages fetched %s\n' "$r" "$mode" \
            "$(make_row run "$mode" run --local-hosts 2 --host-cpus 1 --place-exec least-loaded --json "$w/j.json" \
                -- make -s -C "$w/p" -j2)" \
            "$(jq -r '[.processes[]|select(.program=="cc1")|.node|tostring]|join("")' "$w/j.json")" \
            "$(jq '[.processes[]|select(.node==1)|.node_pages_fetched]|add' "$w/j.json")" | tee -a "$out/zero_fill.txt"
    done
done
