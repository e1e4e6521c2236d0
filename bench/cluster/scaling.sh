#!/usr/bin/env bash
# bench/cluster/scaling.sh BUILD_DIR : does spanning pay? (issue 13, item 1)
# H hosts x C cores against native on C cores, all hosts being processes on
# this machine (`spanvm run --local-hosts H --host-cpus C`, loopback TCP):
# node k is pinned to CPUs [k*C, (k+1)*C), the native run to CPUs [0, C).
# Per workload, four runs:
#   native    the program with T = C threads, pinned to C CPUs;
#   one_host  spanvm on one host (`--host-cpus C`) with H*C threads;
#   hosts     spanvm on H hosts (`--local-hosts H --host-cpus C`, default
#             placement, or BENCH_SCALING_PLACE) with H*C threads: the
#             speedup is native / hosts;
#   origin    the same with `--place origin` (every thread at the origin):
#             one_host / origin is the DSM tax (1.0 = no tax);
#   wide      the program natively with H*C threads on all H*C CPUs: native /
#             wide is this machine's own ceiling for the speedup (shared or
#             SMT cores give less than H).
# Workloads (fixed total work, so times compare; outputs of the compressors
# are checked byte-identical to native, cpu_bound's among the spanvm runs):
#   cpu_bound  bench/process's bench_cpu_bound, BENCH_SCALING_CPU_ITERS rounds
#              in all, split over the threads;
#   sysbench   `sysbench cpu --time=0 --events=BENCH_SCALING_EVENTS`: the
#              events/s figure is events / wall time (start-up included), so
#              its ratio is the time ratio;
#   xz         `xz -T+<threads> --block-size=512KiB` on BENCH_SCALING_XZ_MIB
#              (+: multi-threaded mode even with 1 thread: the same output);
#   pigz, zstd `pigz -p <threads>`, `zstd -T<threads>` on BENCH_SCALING_MIB.
# From `spanvm run --json` of the hosts and origin runs: DSM faults (read +
# write, summed over the machine rows) and bytes (bytes_sent summed over the
# machine rows) per MiB of input, and the hottest page's invalidations per
# second of the run (the largest `invalidations` in hot_pages / wall time).
# Writes bench/out/scaling.json and bench/out/scaling.png; the figures come
# from bench/cluster/scaling.py (statistics: bench/lib/stats.py), this script
# only runs and times things. A run with the defaults takes about 3 minutes
# on a 2-core machine.
# Knobs: SPANVM, BENCH_OUT, BENCH_HOSTS [2], BENCH_CORES [nproc / BENCH_HOSTS],
# BENCH_SCALING_RUNS [3] (runs per cell; the median is reported),
# BENCH_SCALING_CPU_ITERS [600000000 x C], BENCH_SCALING_EVENTS [4000 x H x C],
# BENCH_SCALING_MIB [8 x C], BENCH_SCALING_XZ_MIB [2 x C] (the work grows with
# the cores, so that the native run takes 1-2 s on any machine and the start
# of a run, ~0.1 s for 2 hosts, does not decide the ratio; sysbench's events
# also grow with H, so its hottest-page rate is measured past the first
# placement windows, as the issue's 5 s run was), BENCH_SCALING_PLACE [spanvm's
# default, auto] (the hosts runs' --place), BENCH_SCALING_WORKLOADS
# ["cpu_bound sysbench xz pigz zstd"], BENCH_PLOT [1] (0: JSON only, no gnuplot
# needed). A quick check of the script:
# BENCH_SCALING_RUNS=1 BENCH_SCALING_CPU_ITERS=10000000 BENCH_SCALING_EVENTS=100
# BENCH_SCALING_MIB=1 BENCH_SCALING_XZ_MIB=1 (about 15 s).
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"
bench_init scaling "$@"
CPU_BIN="$BUILD/bench/process/bench_cpu_bound"
H="${BENCH_HOSTS:-2}"
[[ "$H" =~ ^[1-9][0-9]*$ ]] || die "BENCH_HOSTS wants a whole number >= 1 (got '$H')"
C="${BENCH_CORES:-$(($(nproc) / H))}"
RUNS="${BENCH_SCALING_RUNS:-3}"
[[ "$C" =~ ^[1-9][0-9]*$ ]] || die "BENCH_CORES wants a whole number >= 1 (got '$C'; nproc / BENCH_HOSTS must be >= 1)"
CPU_ITERS="${BENCH_SCALING_CPU_ITERS:-$((600000000 * C))}"
EVENTS="${BENCH_SCALING_EVENTS:-$((4000 * H * C))}"
MIB="${BENCH_SCALING_MIB:-$((8 * C))}"
XZ_MIB="${BENCH_SCALING_XZ_MIB:-$((2 * C))}"
WORKLOADS="${BENCH_SCALING_WORKLOADS:-cpu_bound sysbench xz pigz zstd}"
for n in "$H" "$C" "$RUNS" "$CPU_ITERS" "$EVENTS" "$MIB" "$XZ_MIB"; do
    [[ "$n" =~ ^[1-9][0-9]*$ ]] || die "knobs want whole numbers >= 1 (got '$n'; BENCH_CORES = nproc / BENCH_HOSTS must be >= 1)"
done
[ $((H * C)) -le "$(nproc)" ] || die "BENCH_HOSTS x BENCH_CORES = $((H * C)) exceeds nproc $(nproc)"
for f in "$SPANVM" "$CPU_BIN"; do [ -x "$f" ] || die "$f is not built"; done
for t in sysbench pigz xz zstd python3 jq awk taskset; do command -v "$t" >/dev/null || die "$t is not installed"; done
if [ "${BENCH_PLOT:-1}" = 1 ]; then command -v gnuplot >/dev/null || die "gnuplot is not installed (or set BENCH_PLOT=0)"; fi
log() { echo "bench/scaling: $*" >&2; }
WORK="$(mktemp -d "${TMPDIR:-/tmp}/spanvm-bench-scaling.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"
NT=$C            # native threads
ST=$((H * C))    # spanvm threads
# The CPUs spanvm --host-cpus gives node 0 (the first C usable ones), and
# all H*C of them.
USABLE="$(python3 -c 'import os; print(" ".join(map(str, sorted(os.sched_getaffinity(0)))))')"
read -ra usable <<<"$USABLE"
NATIVE_CPUS="$(IFS=,; echo "${usable[*]:0:C}")"
WIDE_CPUS="$(IFS=,; echo "${usable[*]:0:H*C}")"

# Inputs: text of words and numbers (as bench/cluster/run.sh).
bench_text "$MIB" >"$WORK/input.txt"
bench_text "$XZ_MIB" >"$WORK/input_xz.txt"

# cmd WORKLOAD THREADS : prints the command line (words) for THREADS threads.
cmd() {
    case $1 in
    cpu_bound) echo "$CPU_BIN $((CPU_ITERS / $2)) $2" ;;
    sysbench) echo "sysbench cpu --threads=$2 --time=0 --events=$EVENTS run" ;;
    xz) echo "xz -T+$2 --block-size=512KiB -c" ;; # +: multi-threaded mode even for 1, so outputs match
    pigz) echo "pigz -p $2 -c" ;;
    zstd) echo "zstd -T$2 -q -c" ;;
    *) die "unknown workload '$1'" ;;
    esac
}
input_of() {
    case $1 in
    xz) echo "$WORK/input_xz.txt" ;;
    pigz | zstd) echo "$WORK/input.txt" ;;
    *) echo /dev/null ;;
    esac
}
mib_of() {
    case $1 in
    xz) echo "$XZ_MIB" ;;
    pigz | zstd) echo "$MIB" ;;
    *) echo 0 ;;
    esac
}

# timed WORKLOAD MODE RUN CMD... : runs CMD with the workload's input on
# stdin, stdout to WORK/W.MODE.out, and appends its wall time to times.jsonl.
timed() {
    local w=$1 mode=$2 run=$3 s e
    shift 3
    s=$(date +%s%N)
    "$@" <"$(input_of "$w")" >"$WORK/$w.$mode.out" 2>"$WORK/$w.$mode.err" ||
        die "$w $mode failed: $(tail -n 3 "$WORK/$w.$mode.err")"
    e=$(date +%s%N)
    jq -nc --arg w "$w" --arg mode "$mode" --argjson run "$run" --argjson ns $((e - s)) \
        '{workload: $w, mode: $mode, run: $run, ns: $ns}' >>"$WORK/times.jsonl"
}
: >"$WORK/times.jsonl"
for w in $WORKLOADS; do
    read -ra ncmd <<<"$(cmd "$w" "$NT")"
    read -ra scmd <<<"$(cmd "$w" "$ST")"
    for r in $(seq "$RUNS"); do
        timed "$w" native "$r" taskset -c "$NATIVE_CPUS" "${ncmd[@]}"
        timed "$w" wide "$r" taskset -c "$WIDE_CPUS" "${scmd[@]}"
        timed "$w" one_host "$r" "$SPANVM" run ${BENCH_SCALING_MEM:+--mem "$BENCH_SCALING_MEM"} --host-cpus "$C" -- "${scmd[@]}"
        timed "$w" hosts "$r" "$SPANVM" run ${BENCH_SCALING_MEM:+--mem "$BENCH_SCALING_MEM"} --local-hosts "$H" --host-cpus "$C" ${BENCH_SCALING_PLACE:+--place "$BENCH_SCALING_PLACE"} --json "$WORK/$w.hosts.$r.json" -- "${scmd[@]}"
        timed "$w" origin "$r" "$SPANVM" run ${BENCH_SCALING_MEM:+--mem "$BENCH_SCALING_MEM"} --local-hosts "$H" --host-cpus "$C" --place origin \
            --json "$WORK/$w.origin.$r.json" -- "${scmd[@]}"
        case $w in
        xz | pigz | zstd)
            for m in wide one_host hosts origin; do
                cmp -s "$WORK/$w.native.out" "$WORK/$w.$m.out" || die "$w: the $m output differs from native"
            done ;;
        cpu_bound)
            for m in hosts origin; do
                cmp -s "$WORK/$w.one_host.out" "$WORK/$w.$m.out" || die "$w: the $m output differs from one host's"
            done ;;
        esac
    done
    log "$w: native ($NT thread(s) on $C CPU(s)), one host, $H hosts, $H hosts --place origin ($ST threads) timed"
done

jq -n --argjson hosts "$H" --argjson cores "$C" --argjson runs "$RUNS" --argjson cpu_iters "$CPU_ITERS" \
    --argjson events "$EVENTS" --arg workloads "$WORKLOADS" \
    --argjson mib "$(jq -n --argjson x "$XZ_MIB" --argjson m "$MIB" '{xz: $x, pigz: $m, zstd: $m, cpu_bound: 0, sysbench: 0}')" \
    '{hosts: $hosts, cores_per_host: $cores, runs: $runs, cpu_iters: $cpu_iters, sysbench_events: $events,
      workloads: ($workloads | split(" ") | map(select(. != ""))), input_mib: $mib}' >"$WORK/params.json"
python3 "$HERE/scaling.py" "$WORK" "$OUT/scaling.json" >"$WORK/summary.txt" || die "scaling.py failed"
[ "${BENCH_PLOT:-1}" != 1 ] || gnuplot <<GP || die "gnuplot failed"
set terminal png size 1200,450 noenhanced
set output "$OUT/scaling.png"
set multiplot layout 1,2 title "spanvm: $H hosts x $C cores vs native on $C cores (loopback)"
set style data histograms
set xtics font ",9"
set style histogram clustered gap 1
set style fill solid 0.6 border -1
set yrange [0:1.3<*]
set key top right
set title "speedup: native / $H hosts"
plot "$WORK/scaling.dat" using 2:xtic(1) title "spanvm $H hosts", "" using 4 title "native on $((H * C)) CPUs (ceiling)", 1 with lines lc rgb "red" title "1.0"
set title "DSM tax: one host / $H hosts --place origin"
plot "$WORK/scaling.dat" using 3:xtic(1) title "one host / origin", 0.95 with lines lc rgb "red" title "0.95"
unset multiplot
GP
cat "$WORK/summary.txt"
log "wrote $OUT/scaling.json and $OUT/scaling.png"
