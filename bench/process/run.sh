#!/usr/bin/env bash
# bench/process/run.sh BUILD_DIR : process-mode overhead of spanvm vs. native,
# for every platform this host can run (`spanvm info`), in one invocation.
#
# Each case runs BENCH_REPEAT times (median taken) natively and under
# `spanvm run --platform P` for each available P:
#   cpu      bench_cpu_bound (two threads, fixed work) wall time;
#            ratio = native_s / spanvm_s                       target >= 0.97
#   pigz     `pigz -p 2` of a 64 MiB text file, wall time;
#            ratio = native_s / spanvm_s                       target >= 0.9
#   sysbench `sysbench cpu --threads=2` events/s;
#            ratio = spanvm_eps / native_eps                   target >= 0.97
#   fileio   `sysbench fileio --threads=2 --file-test-mode=rndrw` (syscall-
#            heavy) reads+writes/s; ratio = spanvm / native    target >= 0.5
#   syscall  bench_syscall_loop getppid() round trip under spanvm, against
#            the platform's own floor measured in the same run:
#              native: a bare Syscall User Dispatch trap (`spanvm bench-trap`)
#                      target <= 1.5x; and a native getppid, target <= 3x
#                      (issue 16, with FSGSBASE); once more with
#                      syscall-site patching off (SPANVM_NATIVE_PATCH=off),
#                      reported beside it (syscall.trapped_*); and the
#                      loop of getpid, a patched call that is not
#                      pass-through (needs spanvm's state), beside it
#                      (syscall.getpid_*)
#              kvm:    a bare KVM exit (`spanvm bench-exit`), target <= 1.2x
# Writes bench/out/process.json and bench/out/process.png (ratios vs targets).
# The programs' JSON (bench_syscall_loop, `spanvm bench-trap --json`,
# `spanvm bench-exit --json`) and sysbench's text report (it has no JSON) go
# to samples.jsonl; bench/process/report.py takes the medians
# (bench/lib/stats.py) and writes the JSON.
#
# Environment knobs (defaults in brackets): SPANVM [BUILD_DIR/spanvm],
# BENCH_REPEAT [3], BENCH_PIGZ_MIB [64], BENCH_SYSBENCH_TIME [10],
# BENCH_CPU_ITERS [500000000], BENCH_OUT [bench/out],
# BENCH_PLATFORMS [every available one], BENCH_PLOT [1] (0: JSON only, no
# gnuplot needed). A quick check of the script:
# BENCH_REPEAT=1 BENCH_PIGZ_MIB=1 BENCH_SYSBENCH_TIME=1 BENCH_CPU_ITERS=1000000.
set -euo pipefail

. "$(dirname "$0")/../lib/common.sh"
bench_init process "$@"
PIGZ_MIB="${BENCH_PIGZ_MIB:-64}"
SB_TIME="${BENCH_SYSBENCH_TIME:-10}"
CPU_ITERS="${BENCH_CPU_ITERS:-500000000}"
CPU_BIN="$BUILD/bench/process/bench_cpu_bound"
SYS_BIN="$BUILD/bench/process/bench_syscall_loop"

# --- preflight: fail loudly before spending minutes -------------------------
[ -x "$CPU_BIN" ] || die "$CPU_BIN not built (cmake --build $BUILD --target bench_cpu_bound)"
[ -x "$SYS_BIN" ] || die "$SYS_BIN not built (cmake --build $BUILD --target bench_syscall_loop)"
for t in pigz sysbench awk jq python3; do command -v "$t" >/dev/null || die "$t is not installed (scripts/install-deps.sh)"; done
if [ "${BENCH_PLOT:-1}" = 1 ]; then command -v gnuplot >/dev/null || die "gnuplot is not installed (or set BENCH_PLOT=0)"; fi
PIGZ="$(command -v pigz)"
SYSBENCH="$(command -v sysbench)"
if [ -n "${BENCH_PLATFORMS:-}" ]; then
    read -r -a PLATFORMS <<<"$BENCH_PLATFORMS"
else
    PLATFORMS=()
    for p in kvm native; do "$SPANVM" info --require "$p" >/dev/null 2>&1 && PLATFORMS+=("$p"); done
fi
[ ${#PLATFORMS[@]} -gt 0 ] || die "no platform can run here ($("$SPANVM" info 2>&1 | tr '\n' ' '))"
echo "bench/process: platforms: ${PLATFORMS[*]}" >&2

WORK="$(mktemp -d "${TMPDIR:-/tmp}/spanvm-bench.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"

log() { echo "bench/process: $*" >&2; }
# record KEY VALUE : one measurement (a JSON number) for report.py.
record() { jq -nc --arg key "$1" --argjson value "$2" '{key: $key, value: $value}' >>"$WORK/samples.jsonl"; }

# under MODE CMD... : runs CMD natively (MODE=native-host) or under spanvm
# on platform MODE.
under() {
    local mode=$1
    shift
    if [ "$mode" = host ]; then "$@"; else "$SPANVM" run --platform "$mode" -- "$@"; fi
}

# wall_s MODE STDIN CMD... : wall-clock seconds of one run (4 decimals);
# stdout discarded.
wall_s() {
    local mode=$1 in=$2
    shift 2
    local s e
    s=$(date +%s%N)
    under "$mode" "$@" <"$in" >/dev/null || die "$mode run of '$*' failed"
    e=$(date +%s%N)
    jq -n --argjson ns $((e - s)) '$ns / 1e9 * 10000 | round / 10000'
}

MODES=(host "${PLATFORMS[@]}")
: >"$WORK/samples.jsonl"

# --- input for pigz: deterministic compressible text ------------------------
awk -v want=$((PIGZ_MIB * 1024 * 1024)) 'BEGIN {
    n = split("spanvm guest vcpu page fault futex thread kernel memory coherent the of and to in " \
              "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor", w, " ")
    srand(42); total = 0
    while (total < want) {
        line = ""; k = 6 + int(rand() * 10)
        for (i = 0; i < k; i++) line = line (i ? " " : "") (rand() < 0.08 ? int(rand() * 100000) : w[1 + int(rand() * n)])
        line = line "\n"
        if (total + length(line) > want) line = substr(line, 1, want - total)
        printf "%s", line; total += length(line)
    }
}' >"$WORK/input.txt"
mkdir -p "$WORK/fileio"
(cd "$WORK/fileio" && "$SYSBENCH" fileio --file-num=4 --file-total-size=64M prepare >/dev/null) || die "sysbench fileio prepare failed"

# Rounds interleave the modes so that all of them see the same machine load.
for round in $(seq "$REPEAT"); do
    for mode in "${MODES[@]}"; do
        record "cpu_$mode" "$(wall_s "$mode" /dev/null "$CPU_BIN" "$CPU_ITERS")"
        record "pigz_$mode" "$(wall_s "$mode" "$WORK/input.txt" "$PIGZ" -p 2 -c)"
        # sysbench prints text only: its "events per second" and "reads/s",
        # "writes/s" lines are the one place this script reads a text report.
        out="$(under "$mode" "$SYSBENCH" cpu --threads=2 --time="$SB_TIME" run)" || die "$mode sysbench cpu failed"
        eps="$(sed -n 's/^ *events per second: *\([0-9.]*\).*/\1/p' <<<"$out")"
        [ -n "$eps" ] || die "$mode sysbench cpu printed no 'events per second'"
        record "sysbench_$mode" "$eps"
        out="$(cd "$WORK/fileio" && under "$mode" "$SYSBENCH" fileio --threads=2 --file-num=4 --file-total-size=64M \
            --file-test-mode=rndrw --time="$SB_TIME" run)" || die "$mode sysbench fileio failed"
        rd="$(sed -n 's/^ *reads\/s: *\([0-9.]*\).*/\1/p' <<<"$out")"
        wr="$(sed -n 's/^ *writes\/s: *\([0-9.]*\).*/\1/p' <<<"$out")"
        [ -n "$rd" ] && [ -n "$wr" ] || die "$mode sysbench fileio printed no reads/s, writes/s"
        record "fileio_$mode" "$(jq -n --argjson r "$rd" --argjson w "$wr" '($r + $w) * 100 | round / 100')"
        out="$(under "$mode" "$SYS_BIN")" || die "$mode syscall_loop failed"
        ns="$(jq -e '.syscall_roundtrip_ns | numbers' <<<"$out")" || die "$mode syscall_loop printed no result: $out"
        record "syscall_$mode" "$ns"
        if [ "$mode" = native ]; then
            # The same loop with syscall-site patching off: every getppid a
            # SIGSYS trap, as before patching.
            out="$(SPANVM_NATIVE_PATCH=off under native "$SYS_BIN")" || die "native (no patching) syscall_loop failed"
            ns="$(jq -e '.syscall_roundtrip_ns | numbers' <<<"$out")" || die "native (no patching) syscall_loop: $out"
            record syscall_native_trapped "$ns"
            # getpid: patched too, but the guest's pid is spanvm's state,
            # so every call leaves the guest (no pass-through).
            out="$(under native "$SYS_BIN" getpid)" || die "native getpid syscall_loop failed"
            ns="$(jq -e '.syscall_roundtrip_ns | numbers' <<<"$out")" || die "native getpid syscall_loop: $out"
            record syscall_native_getpid "$ns"
        fi
    done
    for p in "${PLATFORMS[@]}"; do
        if [ "$p" = native ]; then
            out="$("$SPANVM" bench-trap --json "$WORK/trap.json" 2>&1)" || die "'spanvm bench-trap' failed: $out"
            record bare_trap "$(jq -e '.bare_trap_ns' "$WORK/trap.json")"
            record getppid_host "$(jq -e '.native_getppid_ns' "$WORK/trap.json")"
        else
            out="$("$SPANVM" bench-exit --json "$WORK/exit.json" 2>&1)" || die "'spanvm bench-exit' failed: $out"
            record kvm_exit "$(jq -e '.exit_roundtrip_ns' "$WORK/exit.json")"
        fi
    done
    log "round $round done"
done

# --- medians, ratios, JSON, plot ---------------------------------------------
jq -n --argjson repeat "$REPEAT" --argjson mib "$PIGZ_MIB" '{repeat: $repeat, pigz_mib: $mib, platforms: $ARGS.positional}' \
    --args "${PLATFORMS[@]}" >"$WORK/params.json"
python3 "$HERE/report.py" "$WORK" "$OUT/process.json" >"$WORK/summary" || die "report.py failed"
ymax="$(cat "$WORK/ymax")"
[ "${BENCH_PLOT:-1}" != 1 ] || gnuplot <<GP || die "gnuplot failed"
set terminal png size 1200,600
set output "$OUT/process.png"
set title "spanvm process mode vs. native, per platform (median of $REPEAT; throughput cases: >= target; syscall: <= target)"
set ylabel "ratio"
set logscale y
set yrange [0.1:$ymax]
set style fill solid 0.6 border -1
set boxwidth 0.6
set xtics rotate by -30
set key below
set grid ytics
plot "$WORK/ratios.dat" using 1:3:xtic(2) with boxes title "measured", \
     "" using 1:4 with points pt 9 ps 2.5 lc rgb "red" title "target", \
     "" using 1:3:(sprintf("%.3f", \$3)) with labels offset 0,1 notitle
GP

cat "$WORK/summary"
log "wrote $OUT/process.json and $OUT/process.png"
