#!/usr/bin/env bash
# bench/results/mprot-2026-12-05/run.sh OLD_SPANVM NEW_SPANVM OUT ROUNDS
# zstd -T2 on 8 MiB (scaling.sh's words), --host-cpus 1: per binary one host
# and `--local-hosts 2 --place origin`. First `strace -f -c` of each
# (OUT/{old,new}-{one,origin}.strace), then ROUNDS interleaved rounds of
# `perf stat -e task-clock` (follows every process of the run) and wall,
# one line per run in OUT/cpu.txt: binary kind task-clock-ms wall-s.
set -euo pipefail
. "$(dirname "$0")/../../lib/common.sh" # bench_text
OLD="$1"; NEW="$2"; OUT="$3"; ROUNDS="${4:-5}"
mkdir -p "$OUT"
IN="$OUT/input.txt"
bench_text 8 >"$IN"
ZSTD="$(command -v zstd)"
args() { [[ $1 == one ]] && echo "--host-cpus 1" || echo "--local-hosts 2 --host-cpus 1 --place origin"; }
for which in old new; do
    bin=$OLD; [[ $which == new ]] && bin=$NEW
    for k in one origin; do
        strace -f -c -o "$OUT/$which-$k.strace" "$bin" run $(args $k) -- "$ZSTD" -T2 -q -c "$IN" > /dev/null
        printf '%s %-6s' "$which" "$k"
        awk '$NF ~ /^(ioctl|mprotect|madvise|mmap|munmap|pread64|total)$/ { printf " %s=%s", $NF, ($4 ~ /^[0-9]+$/ ? $4 : $3) }' "$OUT/$which-$k.strace"
        echo
    done
done | tee "$OUT/counts.txt"
: > "$OUT/cpu.txt"
for ((r = 0; r < ROUNDS; r++)); do
    for which in old new; do
        bin=$OLD; [[ $which == new ]] && bin=$NEW
        for k in one origin; do
            perf stat -x, -e task-clock -o "$OUT/perf.tmp" "$bin" run $(args $k) -- "$ZSTD" -T2 -q -c "$IN" > /dev/null
            ms=$(awk -F, '/task-clock/ { print $1 }' "$OUT/perf.tmp")
            echo "$which $k $ms" >> "$OUT/cpu.txt"
        done
    done
done
python3 - "$OUT/cpu.txt" <<'PY'
import sys, statistics, collections
d = collections.defaultdict(list)
for l in open(sys.argv[1]):
    w, k, ms = l.split(); d[(w, k)].append(float(ms))
for key in sorted(d):
    print(*key, "task-clock median ms %.1f" % statistics.median(d[key]), "runs", len(d[key]))
for w in ("old", "new"):
    print(w, "one/origin CPU %.3f" % (statistics.median(d[(w, "one")]) / statistics.median(d[(w, "origin")])))
PY
rm -f "$IN" "$OUT/perf.tmp"
