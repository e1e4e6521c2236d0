#!/usr/bin/env bash
# bench/results/tax-2026-12-05/run.sh OLD NEW OUTDIR [ROUNDS]: the DSM tax
# with every thread at the origin (issue 13), before and after, interleaved.
# Per round and workload (zstd, pigz, xz as bench/cluster/scaling.sh runs
# them on 2 hosts x 1 core: 2 threads, its inputs; /bin/true for the fixed
# cost of a run), in this order:
#   OLD one host, OLD 2 hosts --place origin, NEW one host,
#   NEW 2 hosts --place origin, NEW origin with SPANVM_DSM_TUNING=populate=0
#   (the discard change alone).
# Each run: wall and CPU time (user + sys of spanvm and its nodes, from
# /usr/bin/time) to times.jsonl, the origin runs' --json beside it; every
# output is compared with native's. summary.py turns them into medians.
set -euo pipefail
. "$(dirname "$0")/../../lib/common.sh" # bench_text
OLD=$1 NEW=$2 OUT=$3 ROUNDS=${4:-7}
mkdir -p "$OUT"
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
bench_text 8 >"$W/in8"; bench_text 2 >"$W/in2"
declare -A CMD=([zstd]="zstd -T2 -q -c" [pigz]="pigz -p 2 -c" [xz]="xz -T+2 --block-size=512KiB -c" [true]="/bin/true")
declare -A IN=([zstd]=$W/in8 [pigz]=$W/in8 [xz]=$W/in2 [true]=/dev/null)
: >"$OUT/times.jsonl"
for w in zstd pigz xz true; do ${CMD[$w]} <"${IN[$w]}" >"$W/$w.native"; done
one() {  # one VARIANT WORKLOAD ROUND TUNING BIN ARGS...
    local v=$1 w=$2 r=$3 tun=$4 bin=$5; shift 5
    local s e
    s=$(date +%s%N)
    SPANVM_DSM_TUNING=$tun /usr/bin/time -f "%U %S" -o "$W/cpu" "$bin" run "$@" -- ${CMD[$w]} <"${IN[$w]}" >"$W/out" 2>"$W/err" ||
        { cat "$W/err"; exit 1; }
    e=$(date +%s%N)
    cmp -s "$W/out" "$W/$w.native" || { echo "$w $v: output differs from native"; exit 1; }
    read -r u sy <"$W/cpu"
    echo "{\"workload\":\"$w\",\"variant\":\"$v\",\"round\":$r,\"ms\":$(((e - s) / 1000000)),\"cpu_s\":$(awk -v u="$u" -v s="$sy" 'BEGIN { printf "%.2f", u + s }')}" >>"$OUT/times.jsonl"
}
for r in $(seq "$ROUNDS"); do
    for w in zstd pigz xz true; do
        one old_one "$w" "$r" "" "$OLD" --host-cpus 1
        one old_origin "$w" "$r" "" "$OLD" --local-hosts 2 --host-cpus 1 --place origin --json "$OUT/$w.old_origin.$r.json"
        one new_one "$w" "$r" "" "$NEW" --host-cpus 1
        one new_origin "$w" "$r" "" "$NEW" --local-hosts 2 --host-cpus 1 --place origin --json "$OUT/$w.new_origin.$r.json"
        one new_nopop_origin "$w" "$r" "populate=0" "$NEW" --local-hosts 2 --host-cpus 1 --place origin --json "$OUT/$w.new_nopop_origin.$r.json"
    done
    echo "round $r done" >&2
done
python3 "$(dirname "$0")/summary.py" "$OUT"
