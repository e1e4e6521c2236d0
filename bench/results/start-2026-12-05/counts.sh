#!/usr/bin/env bash
# bench/results/start-2026-12-05/counts.sh OLD_SPANVM NEW_SPANVM OUT
# What a second host costs zstd -T2 (8 MiB, scaling.sh's input) when every
# thread stays at the origin: per binary, one host (--host-cpus 1) and
# `--local-hosts 2 --host-cpus 1 --place origin`, each under strace -f -c
# (OUT/zstd-{old,new}-{one,origin}.strace) and once more with --json
# (OUT/zstd-{old,new}-origin.json: DSM faults, bytes, fills per machine).
set -euo pipefail
. "$(dirname "$0")/../../lib/common.sh" # bench_text
OLD="$1"; NEW="$2"; OUT="$3"
mkdir -p "$OUT"
IN="$OUT/input.txt"
bench_text 8 >"$IN"
ZSTD="$(command -v zstd)"
for which in old new; do
    bin=$OLD; [[ $which == new ]] && bin=$NEW
    strace -f -c -o "$OUT/zstd-$which-one.strace" "$bin" run --host-cpus 1 -- "$ZSTD" -T2 -q -c "$IN" > /dev/null
    strace -f -c -o "$OUT/zstd-$which-origin.strace" "$bin" run --local-hosts 2 --host-cpus 1 --place origin -- "$ZSTD" -T2 -q -c "$IN" > /dev/null
    "$bin" run --local-hosts 2 --host-cpus 1 --place origin --json "$OUT/zstd-$which-origin.json" -- "$ZSTD" -T2 -q -c "$IN" > /dev/null
    for k in one origin; do
        printf '%s %-6s' "$which" "$k"
        awk '$NF ~ /^(pread64|ioctl|mprotect|madvise|mmap|munmap|sendto|sendmsg|recvfrom|futex|clock_nanosleep|connect|total)$/ { printf " %s=%s", $NF, ($4 ~ /^[0-9]+$/ ? $4 : $3) }' "$OUT/zstd-$which-$k.strace"
        echo
    done
    python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
for m in d["machines"]:
    print("  machine", m["id"], {k: m.get(k) for k in ("bytes_sent", "bytes_received", "read_faults", "write_faults", "remote_fetches", "home_first_touch_faults", "pages_filled")})
print("  discards", d.get("discards"))
' "$OUT/zstd-$which-origin.json"
done
rm -f "$IN"
