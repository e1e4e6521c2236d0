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
#                      target <= 3x; and a native getppid, target <= 10x
#              kvm:    a bare KVM exit (`spanvm bench-exit`), target <= 1.2x
# Writes bench/out/process.json and bench/out/process.png (ratios vs targets).
#
# Environment knobs (defaults in brackets): SPANVM [BUILD_DIR/spanvm],
# BENCH_REPEAT [3], BENCH_PIGZ_MIB [64], BENCH_SYSBENCH_TIME [10],
# BENCH_CPU_ITERS [500000000], BENCH_OUT [bench/out],
# BENCH_PLATFORMS [every available one].
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
if [ -n "${BENCH_PLATFORMS:-}" ]; then
    read -r -a PLATFORMS <<<"$BENCH_PLATFORMS"
else
    PLATFORMS=()
    for p in kvm native; do "$SPANVM" info --require "$p" >/dev/null 2>&1 && PLATFORMS+=("$p"); done
fi
[ ${#PLATFORMS[@]} -gt 0 ] || die "no platform can run here ($("$SPANVM" info 2>&1 | tr '\n' ' '))"
echo "bench/process: platforms: ${PLATFORMS[*]}" >&2

# sed_num KEY TEXT : the number after "KEY " on its own line of TEXT.
sed_num() { sed -n "s/^$1 \([0-9.][0-9.]*\)\$/\1/p" <<<"$2"; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/spanvm-bench.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", a / b }'; }
log() { echo "bench/process: $*" >&2; }
meets() { awk -v r="$1" -v t="$3" -v op="$2" 'BEGIN { print ((op == ">=" ? r >= t : r <= t) ? "true" : "false") }'; }

# under MODE CMD... : runs CMD natively (MODE=native-host) or under spanvm
# on platform MODE.
under() {
    local mode=$1
    shift
    if [ "$mode" = host ]; then "$@"; else "$SPANVM" run --platform "$mode" -- "$@"; fi
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

MODES=(host "${PLATFORMS[@]}")
declare -A R

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
        R[cpu_$mode]+="$(wall_s "$mode" /dev/null "$CPU_BIN" "$CPU_ITERS") "
        R[pigz_$mode]+="$(wall_s "$mode" "$WORK/input.txt" "$PIGZ" -p 2 -c) "
        out="$(under "$mode" "$SYSBENCH" cpu --threads=2 --time="$SB_TIME" run)" || die "$mode sysbench cpu failed"
        eps="$(sed -n 's/^ *events per second: *\([0-9.]*\).*/\1/p' <<<"$out")"
        [ -n "$eps" ] || die "$mode sysbench cpu printed no 'events per second'"
        R[sysbench_$mode]+="$eps "
        out="$(cd "$WORK/fileio" && under "$mode" "$SYSBENCH" fileio --threads=2 --file-num=4 --file-total-size=64M \
            --file-test-mode=rndrw --time="$SB_TIME" run)" || die "$mode sysbench fileio failed"
        rd="$(sed -n 's/^ *reads\/s: *\([0-9.]*\).*/\1/p' <<<"$out")"
        wr="$(sed -n 's/^ *writes\/s: *\([0-9.]*\).*/\1/p' <<<"$out")"
        [ -n "$rd" ] && [ -n "$wr" ] || die "$mode sysbench fileio printed no reads/s, writes/s"
        R[fileio_$mode]+="$(awk -v a="$rd" -v b="$wr" 'BEGIN { printf "%.2f", a + b }') "
        out="$(under "$mode" "$SYS_BIN")" || die "$mode syscall_loop failed"
        ns="$(sed_num syscall_roundtrip_ns "$out")"
        [ -n "$ns" ] || die "$mode syscall_loop printed no result"
        R[syscall_$mode]+="$ns "
    done
    for p in "${PLATFORMS[@]}"; do
        if [ "$p" = native ]; then
            out="$("$SPANVM" bench-trap 2>&1)" || die "'spanvm bench-trap' failed: $out"
            R[bare_trap]+="$(sed_num bare_trap_ns "$out") "
            R[getppid_host]+="$(sed_num native_getppid_ns "$out") "
        else
            out="$("$SPANVM" bench-exit 2>&1)" || die "'spanvm bench-exit' failed: $out"
            R[kvm_exit]+="$(sed_num exit_roundtrip_ns "$out") "
        fi
    done
    log "round $round done"
done
declare -A M
for k in "${!R[@]}"; do
    # shellcheck disable=SC2086
    M[$k]="$(median ${R[$k]})"
    log "$k: ${R[$k]}-> median ${M[$k]}"
done

# --- ratios, JSON, plot -------------------------------------------------------
{
    echo "{"
    echo "  \"repeat\": $REPEAT, \"platforms\": [$(printf '"%s",' "${PLATFORMS[@]}" | sed 's/,$//')],"
    echo "  \"host\": {\"cpu_s\": ${M[cpu_host]}, \"pigz_s\": ${M[pigz_host]}, \"sysbench_eps\": ${M[sysbench_host]}, \"fileio_ops\": ${M[fileio_host]}, \"getppid_ns\": ${M[syscall_host]}},"
    first=1
    for p in "${PLATFORMS[@]}"; do
        [ $first = 1 ] || echo ","
        first=0
        cpu_r="$(ratio "${M[cpu_host]}" "${M[cpu_$p]}")"
        pigz_r="$(ratio "${M[pigz_host]}" "${M[pigz_$p]}")"
        sb_r="$(ratio "${M[sysbench_$p]}" "${M[sysbench_host]}")"
        fio_r="$(ratio "${M[fileio_$p]}" "${M[fileio_host]}")"
        printf '  "%s": {\n' "$p"
        printf '    "cpu_bound": {"spanvm_s": %s, "ratio": %s, "ratio_is": "native_s / spanvm_s", "target": ">= 0.97", "meets_target": %s},\n' "${M[cpu_$p]}" "$cpu_r" "$(meets "$cpu_r" ">=" 0.97)"
        printf '    "pigz": {"spanvm_s": %s, "input_mib": %s, "ratio": %s, "ratio_is": "native_s / spanvm_s", "target": ">= 0.9", "meets_target": %s},\n' "${M[pigz_$p]}" "$PIGZ_MIB" "$pigz_r" "$(meets "$pigz_r" ">=" 0.9)"
        printf '    "sysbench_cpu": {"spanvm_eps": %s, "ratio": %s, "ratio_is": "spanvm_eps / native_eps", "target": ">= 0.97", "meets_target": %s},\n' "${M[sysbench_$p]}" "$sb_r" "$(meets "$sb_r" ">=" 0.97)"
        printf '    "sysbench_fileio_rndrw": {"spanvm_ops": %s, "ratio": %s, "ratio_is": "spanvm_ops / native_ops", "target": ">= 0.5", "meets_target": %s},\n' "${M[fileio_$p]}" "$fio_r" "$(meets "$fio_r" ">=" 0.5)"
        if [ "$p" = native ]; then
            tr="$(ratio "${M[syscall_$p]}" "${M[bare_trap]}")"
            gr="$(ratio "${M[syscall_$p]}" "${M[syscall_host]}")"
            printf '    "syscall": {"spanvm_ns": %s, "bare_trap_ns": %s, "native_getppid_ns": %s, "vs_bare_trap": %s, "target_vs_bare_trap": "<= 3", "meets_bare_trap_target": %s, "vs_native_getppid": %s, "target_vs_native_getppid": "<= 10", "meets_getppid_target": %s}\n' \
                "${M[syscall_$p]}" "${M[bare_trap]}" "${M[syscall_host]}" "$tr" "$(meets "$tr" "<=" 3)" "$gr" "$(meets "$gr" "<=" 10)"
            echo "$p cpu $cpu_r pigz $pigz_r sysbench $sb_r fileio $fio_r syscall/trap $tr syscall/getppid $gr" >>"$WORK/summary"
        else
            er="$(ratio "${M[syscall_$p]}" "${M[kvm_exit]}")"
            printf '    "syscall": {"spanvm_ns": %s, "kvm_exit_ns": %s, "vs_kvm_exit": %s, "target": "<= 1.2", "meets_target": %s}\n' \
                "${M[syscall_$p]}" "${M[kvm_exit]}" "$er" "$(meets "$er" "<=" 1.2)"
            echo "$p cpu $cpu_r pigz $pigz_r sysbench $sb_r fileio $fio_r syscall/exit $er" >>"$WORK/summary"
        fi
        printf '  }'
    done
    echo
    echo "}"
} >"$OUT/process.json"

# Plot: one group per case, one bar per platform; targets as red marks.
: >"$WORK/ratios.dat"
x=0
for p in "${PLATFORMS[@]}"; do
    line="$(grep "^$p " "$WORK/summary")"
    set -- $line
    shift
    while [ $# -ge 2 ]; do
        case "$1" in
            cpu | sysbench) t=0.97 ;; pigz) t=0.9 ;; fileio) t=0.5 ;; syscall/trap) t=3 ;; syscall/getppid) t=10 ;; syscall/exit) t=1.2 ;; *) t=0 ;;
        esac
        echo "$x \"$p $1\" $2 $t" >>"$WORK/ratios.dat"
        x=$((x + 1))
        shift 2
    done
done
ymax="$(awk '{ for (i = NF - 1; i <= NF; i++) if ($i > m) m = $i } END { printf "%.2f", m * 1.2 }' "$WORK/ratios.dat")"
gnuplot <<GP || die "gnuplot failed"
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

printf '%-10s %s\n' platform "ratios (cpu, pigz, sysbench cpu, fileio: spanvm/native throughput; syscall: cost ratio)"
cat "$WORK/summary"
log "host getppid ${M[syscall_host]} ns; ${M[bare_trap]:+bare SUD trap ${M[bare_trap]} ns; }${M[kvm_exit]:+KVM exit ${M[kvm_exit]} ns}"
log "wrote $OUT/process.json and $OUT/process.png"
