#!/usr/bin/env bash
# bench/results/fixedcost-2026-12-05/run.sh OLD_SPANVM NEW_SPANVM OUT [ROUNDS]
# The fixed cost of a short run (issue 13), old and new binaries alternating
# in the same minutes: per round, for each binary,
#   true1   spanvm run --host-cpus 1 -- /bin/true
#   true2   spanvm run --local-hosts 2 --host-cpus 1 -- /bin/true
#   zstd1   spanvm run --host-cpus 1 -- zstd -T2 -q -c IN        (scaling.sh's line, 8 MiB)
#   zstdO   spanvm run --local-hosts 2 --host-cpus 1 --place origin -- zstd -T2 -q -c IN
# Odd rounds run old first, even rounds new first.
# Wall (date +%s%N), CPU of every process of the run and its page faults
# (perf stat -e task-clock,page-faults: both follow the nodes' forks), and
# the 1-minute load average before the round. Writes OUT/rows.tsv and
# prints medians, new/old and the DSM tax (zstd1 / zstdO) per binary.
set -euo pipefail
. "$(dirname "$0")/../../lib/common.sh" # bench_text
OLD="$1"; NEW="$2"; OUT="$3"; ROUNDS="${4:-11}"
mkdir -p "$OUT"
IN="$OUT/input.txt"
bench_text 8 >"$IN"
ZSTD="$(command -v zstd)"
: > "$OUT/rows.tsv"
one() {  # ROUND WHICH CASE ARGS...
    local r=$1 w=$2 c=$3 a b
    shift 3
    a=$(date +%s%N)
    perf stat -x, -e task-clock,page-faults -o "$OUT/perf.tmp" -- "$@" >/dev/null 2>&1 || true
    b=$(date +%s%N)
    echo -e "$r\t$w\t$c\t$(( (b - a) / 1000 ))\t$(awk -F, '/task-clock/ { print $1 }' "$OUT/perf.tmp")\t$(awk -F, '/page-faults/ { print $1 }' "$OUT/perf.tmp")\t$(cut -d' ' -f1 /proc/loadavg)" >> "$OUT/rows.tsv"
}
for r in $(seq 1 "$ROUNDS"); do
    order="old new"; (( r % 2 )) || order="new old"  # neither always goes first
    for w in $order; do
        bin=$OLD; [[ $w == new ]] && bin=$NEW
        one "$r" "$w" true1 "$bin" run --host-cpus 1 -- /bin/true
        one "$r" "$w" true2 "$bin" run --local-hosts 2 --host-cpus 1 -- /bin/true
        one "$r" "$w" zstd1 "$bin" run --host-cpus 1 -- "$ZSTD" -T2 -q -c "$IN"
        one "$r" "$w" zstdO "$bin" run --local-hosts 2 --host-cpus 1 --place origin -- "$ZSTD" -T2 -q -c "$IN"
    done
done
rm -f "$IN" "$OUT/perf.tmp"
python3 - "$OUT/rows.tsv" <<'PY'
import sys, statistics as st
rows = [l.rstrip('\n').split('\t') for l in open(sys.argv[1]) if l.strip()]
def med(w, c, i): return st.median(float(x[i]) for x in rows if x[1] == w and x[2] == c)
loads = [float(x[6]) for x in rows]
print(f"medians of {len(rows) // 8} alternating rounds; load average {min(loads):.1f}-{max(loads):.1f} (median {st.median(loads):.1f})")
print("case    wall old ms  new ms  new/old   CPU old ms  new ms  new/old   faults old  new")
for c in ("true1", "true2", "zstd1", "zstdO"):
    wo, wn = med('old', c, 3) / 1000, med('new', c, 3) / 1000
    co, cn = med('old', c, 4), med('new', c, 4)
    fo, fn = med('old', c, 5), med('new', c, 5)
    print(f"{c:6s}  {wo:11.1f}  {wn:6.1f}  {wn/wo:7.2f}   {co:10.1f}  {cn:6.1f}  {cn/co:7.2f}   {fo:10.0f}  {fn:4.0f}")
for w in ('old', 'new'):
    print(f"{w}: DSM tax (zstd one host / 2 hosts --place origin, wall medians) {med(w,'zstd1',3)/med(w,'zstdO',3):.2f};"
          f" 2-host /bin/true - one host: {(med(w,'true2',3)-med(w,'true1',3))/1000:.1f} ms wall, {med(w,'true2',4)-med(w,'true1',4):.1f} ms CPU")
PY
