#!/usr/bin/env bash
# run.sh OLD NEW OUT [ROUNDS]: this session's before/after on one host, in
# one run, interleaved (OLD, NEW, ... ROUNDS times; default 6):
#   spawn_counts.txt  fork+exec+wait of /bin/true (bench/spawn/spawn_loop.c,
#                     200 rounds): per binary, host syscalls of a 100-round
#                     run (strace -f -c: thread starts, waits), and per
#                     interleaved round perf stat's task-clock, page faults,
#                     context switches; then min and median
#   phases.txt        NEW only: the CPU of each phase of a spawn
#                     (SPANVM_LATENCY_TRACE_CPU, phases.py)
#   make_counts.txt   one-host `make -j2` of the generated 64-file project:
#                     native, OLD, NEW interleaved, perf stat as above
# Absolute CPU times swing with the host's load: compare within a round,
# and the counts, which do not depend on the machine.
set -euo pipefail
old=$(realpath "$1") new=$(realpath "$2") out=$3 rounds=${4:-6}
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
mkdir -p "$out"
w="$(mktemp -d /tmp/session-2026-12-06c.XXXXXX)"
trap 'rm -rf "$w"' EXIT
cc -O2 -o "$w/spawn_loop" "$repo/bench/spawn/spawn_loop.c"
"$repo/tests/integration/gen_c_project.sh" "$w/proj" 64 >/dev/null
stat3() {  # stat3 CMD...: "task-clock-ms page-faults context-switches"
    perf stat -x, -e task-clock,page-faults,context-switches -o "$w/ps" "$@" >/dev/null 2>&1
    grep -v '^#' "$w/ps" | awk -F, 'NF>2{printf "%s ", $1}'
}
summary() {  # stdin: "name cpu faults cs" rows
    python3 -c '
import statistics, sys
rows = {}
for line in sys.stdin:
    p = line.split()
    if len(p) == 4:
        rows.setdefault(p[0], []).append([float(x) for x in p[1:]])
for k, v in rows.items():
    med = lambda i: statistics.median(r[i] for r in v)
    print(f"{k}: task-clock min {min(r[0] for r in v):.0f} median {med(0):.0f} ms; median {med(1):.0f} page faults, {med(2):.0f} context switches")
'
}
{
    for b in old new; do
        bin=$old; [ $b = new ] && bin=$new
        strace -f -c -o "$w/st" "$bin" run -- "$w/spawn_loop" 100 >/dev/null 2>&1
        echo "$b (100 rounds, strace -f -c): $(awk '$NF ~ /^(clone|clone3|rt_sigtimedwait|mmap|mprotect|munmap|arch_prctl)$/ {printf "%s=%s ", $NF, $4}' "$w/st")"
    done
    for ((r = 1; r <= rounds; r++)); do
        for b in old new; do
            bin=$old; [ $b = new ] && bin=$new
            echo "$b $(stat3 "$bin" run -- "$w/spawn_loop" 200)" | tee -a "$w/spawn_rows"
        done
    done
    echo "per 200 rounds:"
    summary <"$w/spawn_rows"
} | tee "$out/spawn_counts.txt"
rm -rf "$w/tr" && mkdir "$w/tr"
SPANVM_LATENCY_TRACE="$w/tr" SPANVM_LATENCY_TRACE_CPU=1 "$new" run -- "$w/spawn_loop" 200 >/dev/null
"$here/phases.py" "$w/tr" | tee "$out/phases.txt"
{
    for ((r = 1; r <= rounds; r++)); do
        for b in native old new; do
            make -s -C "$w/proj" clean >/dev/null
            if [ $b = native ]; then
                echo "$b $(stat3 make -s -C "$w/proj" -j2)"
            else
                bin=$old; [ $b = new ] && bin=$new
                echo "$b $(stat3 "$bin" run -- "$(command -v make)" -s -C "$w/proj" -j2)"
            fi
        done | tee -a "$w/make_rows"
    done
    echo "per make -j2:"
    summary <"$w/make_rows"
} | tee "$out/make_counts.txt"
