#!/usr/bin/env bash
# bench/results/start-2026-12-05/run.sh OLD_SPANVM NEW_SPANVM OUT [ROUNDS]
# The fixed cost of a run, old and new binaries interleaved in the same
# minutes: per round, for each binary, `spanvm run -- /bin/true` on one host,
# on `--local-hosts 2` and `--local-hosts 3`: wall ms (date +%s%N) and CPU ms
# of every process of the run, nodes included (perf stat -e task-clock,
# which follows forks). On a loaded host the wall times swing 3x with the
# run queue; the CPU times say what work the run does.
# Writes OUT/true.tsv (round, binary, hosts, wall us, cpu ms) and prints
# medians and the new/old ratio per row. Then, per binary, the syscall counts of one
# 2-host run (strace -c -f) into OUT/strace-{old,new}-{true2,true3}.txt.
set -euo pipefail
OLD="$1"; NEW="$2"; OUT="$3"; ROUNDS="${4:-15}"
mkdir -p "$OUT"
: > "$OUT/true.tsv"
ms() {
    local a b
    a=$(date +%s%N)
    perf stat -x, -e task-clock -o "$OUT/perf.tmp" -- "$@" >/dev/null 2>&1 || true
    b=$(date +%s%N)
    echo -e "$(( (b - a) / 1000 ))\t$(awk -F, '/task-clock/ { print $1 }' "$OUT/perf.tmp")"
}
for r in $(seq 1 "$ROUNDS"); do
    for which in old new; do
        bin=$OLD; [[ $which == new ]] && bin=$NEW
        echo -e "$r\t$which\t1\t$(ms "$bin" run -- /bin/true)" >> "$OUT/true.tsv"
        echo -e "$r\t$which\t2\t$(ms "$bin" run --local-hosts 2 -- /bin/true)" >> "$OUT/true.tsv"
        echo -e "$r\t$which\t3\t$(ms "$bin" run --local-hosts 3 -- /bin/true)" >> "$OUT/true.tsv"
    done
done
python3 - "$OUT/true.tsv" <<'PY'
import sys, statistics as st
rows = [l.split('\t') for l in open(sys.argv[1]) if l.strip()]
med = {}
cpu = {}
for h in '123':
    for w in ('old', 'new'):
        med[w, h] = st.median([int(x[3]) / 1000 for x in rows if x[1] == w and x[2] == h])
        cpu[w, h] = st.median([float(x[4]) for x in rows if x[1] == w and x[2] == h])
print("hosts  wall old ms  new ms  new/old   CPU old ms  new ms  new/old  (medians of %d interleaved rounds)" % (len(rows) // 6))
for h in '123':
    print(f"{h:>5}  {med['old',h]:11.1f}  {med['new',h]:6.1f}  {med['new',h]/med['old',h]:7.2f}   {cpu['old',h]:10.1f}  {cpu['new',h]:6.1f}  {cpu['new',h]/cpu['old',h]:7.2f}")
print("2 hosts - 1 host: old %.1f ms, new %.1f ms; 3 hosts - 1 host: old %.1f, new %.1f" % (
    med['old','2']-med['old','1'], med['new','2']-med['new','1'], med['old','3']-med['old','1'], med['new','3']-med['new','1']))
PY
for which in old new; do
    bin=$OLD; [[ $which == new ]] && bin=$NEW
    for h in 2 3; do
        strace -f -c -o "$OUT/strace-$which-true$h.txt" "$bin" run --local-hosts $h -- /bin/true >/dev/null 2>&1 || true
    done
    strace -f -o "$OUT/strace-$which-true2.log" -e trace=connect,pread64,clock_nanosleep,openat "$bin" run --local-hosts 2 -- /bin/true >/dev/null 2>&1 || true
    echo "$which 2 hosts (strace -f):" \
         "connect attempts $(grep -c 'connect(' "$OUT/strace-$which-true2.log")," \
         "pread64 $(grep -c 'pread64(' "$OUT/strace-$which-true2.log")," \
         "clock_nanosleep $(grep -c 'clock_nanosleep(' "$OUT/strace-$which-true2.log")," \
         "/proc/N/stat opens $(grep -c 'openat(.*"/proc/[0-9]*/stat"' "$OUT/strace-$which-true2.log")"
    rm -f "$OUT/strace-$which-true2.log"
done
