#!/usr/bin/env bash
# bench/process/run.sh BUILD_DIR : process-mode overhead of spanvm vs. native.
#
# Measures, each BENCH_REPEAT times (median taken), natively and under
# `spanvm run` in the same invocation:
#   cpu      bench_cpu_bound (two threads, fixed work) wall time;
#            ratio = native_s / spanvm_s                       target >= 0.95
#   pigz     `pigz -p 2` of a 64 MiB text file, wall time;
#            ratio = native_s / spanvm_s                       target >= 0.8
#   sysbench `sysbench cpu --threads=2 --time=10` events/s;
#            ratio = spanvm_eps / native_eps   target >= 0.95 (CPU-bound, as cpu)
#   syscall  bench_syscall_loop getppid() round trip under spanvm vs. a bare
#            KVM exit round trip (`spanvm bench-exit`);
#            ratio = guest_syscall_ns / exit_ns                target <= 1.2
# Writes bench/out/process.json and bench/out/process.png (ratios vs targets).
#
# Environment knobs (defaults in brackets): SPANVM [BUILD_DIR/spanvm],
# BENCH_REPEAT [3], BENCH_PIGZ_MIB [64], BENCH_SYSBENCH_TIME [10],
# BENCH_CPU_ITERS [500000000], BENCH_OUT [bench/out].
set -euo pipefail

die() {
    echo "bench/process: ERROR: $*" >&2
    exit 1
}
[ $# = 1 ] || die "usage: $0 BUILD_DIR"
BUILD="$(cd "$1" && pwd)" || die "build dir '$1' does not exist"
HERE="$(cd "$(dirname "$0")" && pwd)"
OUT="${BENCH_OUT:-$HERE/../out}"
SPANVM="${SPANVM:-$BUILD/spanvm}"
REPEAT="${BENCH_REPEAT:-3}"
PIGZ_MIB="${BENCH_PIGZ_MIB:-64}"
SB_TIME="${BENCH_SYSBENCH_TIME:-10}"
CPU_ITERS="${BENCH_CPU_ITERS:-500000000}"
CPU_BIN="$BUILD/bench/process/bench_cpu_bound"
SYS_BIN="$BUILD/bench/process/bench_syscall_loop"

# --- preflight: fail loudly before spending minutes -------------------------
[ -x "$SPANVM" ] || die "spanvm binary '$SPANVM' not found (build it first)"
[ -x "$CPU_BIN" ] || die "$CPU_BIN not built (cmake --build $BUILD --target bench_cpu_bound)"
[ -x "$SYS_BIN" ] || die "$SYS_BIN not built (cmake --build $BUILD --target bench_syscall_loop)"
for t in pigz sysbench gnuplot awk; do command -v "$t" >/dev/null || die "$t is not installed (scripts/install-deps.sh)"; done
PIGZ="$(command -v pigz)"
SYSBENCH="$(command -v sysbench)"

exit_ns() {
    local out
    out="$("$SPANVM" bench-exit 2>&1)" || die "'$SPANVM bench-exit' failed (the VMM must provide it): $out"
    local v
    v="$(sed -n 's/^exit_roundtrip_ns \([0-9.][0-9.]*\)$/\1/p' <<<"$out")"
    [ -n "$v" ] || die "'$SPANVM bench-exit' printed no 'exit_roundtrip_ns <N>' line: $out"
    echo "$v"
}
exit_ns >/dev/null # probe once up front

WORK="$(mktemp -d "${TMPDIR:-/tmp}/spanvm-bench.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", a / b }'; }
log() { echo "bench/process: $*" >&2; }

# under MODE CMD... : runs CMD natively (MODE=native) or under spanvm.
under() {
    local mode=$1
    shift
    if [ "$mode" = native ]; then "$@"; else "$SPANVM" run -- "$@"; fi
}

# wall_s MODE STDIN CMD... : wall-clock seconds of one run; stdout discarded.
wall_s() {
    local mode=$1 in=$2
    shift 2
    local s e
    s=$(date +%s%N)
    under "$mode" "$@" <"$in" >/dev/null || die "$mode run of '$*' failed"
    e=$(date +%s%N)
    awk -v d=$((e - s)) 'BEGIN { printf "%.4f", d / 1e9 }'
}

# --- 1. two-thread CPU-bound program -----------------------------------------
declare -A R
for mode in native spanvm; do
    v=()
    for _ in $(seq "$REPEAT"); do v+=("$(wall_s "$mode" /dev/null "$CPU_BIN" "$CPU_ITERS")"); done
    R[cpu_$mode]="$(median "${v[@]}")"
    log "cpu_bound $mode: ${v[*]} s -> median ${R[cpu_$mode]} s"
done

# --- 2. pigz -p 2 on a 64 MiB file -------------------------------------------
# Deterministic compressible text, same generator idea as the integration tests.
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
for mode in native spanvm; do
    v=()
    for _ in $(seq "$REPEAT"); do v+=("$(wall_s "$mode" "$WORK/input.txt" "$PIGZ" -p 2 -c)"); done
    R[pigz_$mode]="$(median "${v[@]}")"
    log "pigz $mode: ${v[*]} s -> median ${R[pigz_$mode]} s"
done

# --- 3. sysbench cpu --threads=2 --------------------------------------------
for mode in native spanvm; do
    v=()
    for _ in $(seq "$REPEAT"); do
        out="$(under "$mode" "$SYSBENCH" cpu --threads=2 --time="$SB_TIME" run)" || die "$mode sysbench cpu failed"
        eps="$(sed -n 's/^ *events per second: *\([0-9.]*\).*/\1/p' <<<"$out")"
        [ -n "$eps" ] || die "$mode sysbench cpu printed no 'events per second'"
        v+=("$eps")
    done
    R[sysbench_$mode]="$(median "${v[@]}")"
    log "sysbench cpu $mode: ${v[*]} events/s -> median ${R[sysbench_$mode]}"
done

# --- 4. syscall round trip vs bare KVM exit ---------------------------------
for mode in native spanvm; do
    v=()
    for _ in $(seq "$REPEAT"); do
        out="$(under "$mode" "$SYS_BIN")" || die "$mode syscall_loop failed"
        ns="$(sed -n 's/^syscall_roundtrip_ns \([0-9.]*\)$/\1/p' <<<"$out")"
        [ -n "$ns" ] || die "$mode syscall_loop printed no result"
        v+=("$ns")
    done
    R[syscall_$mode]="$(median "${v[@]}")"
    log "syscall $mode: ${v[*]} ns -> median ${R[syscall_$mode]} ns"
done
v=()
for _ in $(seq "$REPEAT"); do v+=("$(exit_ns)"); done
R[exit_ns]="$(median "${v[@]}")"
log "bare KVM exit: ${v[*]} ns -> median ${R[exit_ns]} ns"

# --- ratios, JSON, plot -------------------------------------------------------
cpu_ratio="$(ratio "${R[cpu_native]}" "${R[cpu_spanvm]}")"
pigz_ratio="$(ratio "${R[pigz_native]}" "${R[pigz_spanvm]}")"
sb_ratio="$(ratio "${R[sysbench_spanvm]}" "${R[sysbench_native]}")"
sys_ratio="$(ratio "${R[syscall_spanvm]}" "${R[exit_ns]}")"
meets() { awk -v r="$1" -v t="$3" -v op="$2" 'BEGIN { print ((op == ">=" ? r >= t : r <= t) ? "true" : "false") }'; }

cat >"$OUT/process.json" <<JSON
{
  "repeat": $REPEAT,
  "cpu_bound": {"native_s": ${R[cpu_native]}, "spanvm_s": ${R[cpu_spanvm]}, "iterations": $CPU_ITERS,
                "ratio": $cpu_ratio, "ratio_is": "native_s / spanvm_s", "target": ">= 0.95", "meets_target": $(meets "$cpu_ratio" ">=" 0.95)},
  "pigz": {"native_s": ${R[pigz_native]}, "spanvm_s": ${R[pigz_spanvm]}, "input_mib": $PIGZ_MIB,
           "ratio": $pigz_ratio, "ratio_is": "native_s / spanvm_s", "target": ">= 0.8", "meets_target": $(meets "$pigz_ratio" ">=" 0.8)},
  "sysbench_cpu": {"native_eps": ${R[sysbench_native]}, "spanvm_eps": ${R[sysbench_spanvm]}, "time_s": $SB_TIME,
                   "ratio": $sb_ratio, "ratio_is": "spanvm_eps / native_eps", "target": ">= 0.95", "meets_target": $(meets "$sb_ratio" ">=" 0.95)},
  "syscall": {"native_ns": ${R[syscall_native]}, "spanvm_ns": ${R[syscall_spanvm]}, "kvm_exit_ns": ${R[exit_ns]},
              "ratio": $sys_ratio, "ratio_is": "spanvm_ns / kvm_exit_ns", "target": "<= 1.2", "meets_target": $(meets "$sys_ratio" "<=" 1.2)}
}
JSON

cat >"$WORK/ratios.dat" <<DAT
0 "CPU (2 threads)" $cpu_ratio 0.95
1 "pigz -p 2" $pigz_ratio 0.8
2 "sysbench cpu" $sb_ratio 0.95
3 "syscall / KVM exit" $sys_ratio 1.2
DAT
ymax="$(awk '{ for (i = NF - 1; i <= NF; i++) if ($i > m) m = $i } END { printf "%.2f", m * 1.2 }' "$WORK/ratios.dat")"
gnuplot <<GP || die "gnuplot failed"
set terminal png size 900,540
set output "$OUT/process.png"
set title "spanvm process mode vs. native (median of $REPEAT)"
set ylabel "ratio"
set yrange [0:$ymax]
set style fill solid 0.6 border -1
set boxwidth 0.6
set xtics rotate by 0
set key below
set grid ytics
plot "$WORK/ratios.dat" using 1:3:xtic(2) with boxes title "measured (CPU, pigz, sysbench: >= target; syscall: <= target)", \
     "" using 1:4 with points pt 9 ps 2.5 lc rgb "red" title "target", \
     "" using 1:3:(sprintf("%.3f", \$3)) with labels offset 0,1 notitle
GP

printf '%-22s %10s %10s %8s %s\n' metric native spanvm ratio target
printf '%-22s %10s %10s %8s %s\n' "cpu_bound wall s" "${R[cpu_native]}" "${R[cpu_spanvm]}" "$cpu_ratio" ">= 0.95"
printf '%-22s %10s %10s %8s %s\n' "pigz -p 2 wall s" "${R[pigz_native]}" "${R[pigz_spanvm]}" "$pigz_ratio" ">= 0.8"
printf '%-22s %10s %10s %8s %s\n' "sysbench cpu ev/s" "${R[sysbench_native]}" "${R[sysbench_spanvm]}" "$sb_ratio" ">= 0.95"
printf '%-22s %10s %10s %8s %s\n' "syscall ns (vs exit)" "${R[syscall_native]}" "${R[syscall_spanvm]}" "$sys_ratio" "<= 1.2 (exit ${R[exit_ns]} ns)"
log "wrote $OUT/process.json and $OUT/process.png"
