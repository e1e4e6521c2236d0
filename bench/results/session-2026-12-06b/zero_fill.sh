#!/usr/bin/env bash
# zero_fill.sh SPANVM OUTDIR [ROUNDS] : a deputy's origin without
# zero-fill-ahead (the default since 2026-12-06) against with it
# (SPANVM_DSM_TUNING=zero_fill=512 on every engine: the node's default,
# and what the deputy's origin had), one binary, interleaved with the
# order alternating: pages fetched by a placed /bin/true and cc1, then
# `make -j2` of 16 files x 60 functions over 2 hosts x 1 core: wall, each
# CPU's busy seconds, pages host 1 fetched per build.
set -euo pipefail
spanvm=$(realpath "$1") out=$2 rounds=${3:-4}
repo="$(cd "$(dirname "$0")/../../.." && pwd)"
mkdir -p "$out"
w="$(mktemp -d /tmp/zero-fill.XXXXXX)"
trap 'rm -rf "$w"' EXIT
"$repo/tests/integration/gen_c_project.sh" "$w/p" 16 60 >/dev/null
busy() { awk '/^cpu[01] /{print $2+$3+$4+$7+$8}' /proc/stat | paste -sd' '; }
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
        make -s -C "$w/p" clean
        a=$(busy); t0=$(date +%s.%N)
        run "$mode" run --local-hosts 2 --host-cpus 1 --place-exec least-loaded --json "$w/j.json" -- make -s -C "$w/p" -j2 >/dev/null 2>&1
        t1=$(date +%s.%N); b=$(busy)
        read -r a0 a1 <<<"$a"; read -r b0 b1 <<<"$b"
        printf 'round %s deputy zero-fill-ahead %-7s: wall %.2f s, cpu0 %.2f s, cpu1 %.2f s, cc1 nodes %s, host 1 pages fetched %s\n' \
            "$r" "$mode" "$(echo "$t1 - $t0" | bc -l)" "$(echo "($b0 - $a0) / 100" | bc -l)" "$(echo "($b1 - $a1) / 100" | bc -l)" \
            "$(jq -r '[.processes[]|select(.program=="cc1")|.node|tostring]|join("")' "$w/j.json")" \
            "$(jq '[.processes[]|select(.node==1)|.node_pages_fetched]|add' "$w/j.json")" | tee -a "$out/zero_fill.txt"
    done
done
