#!/usr/bin/env bash
# bench/spawn/hosts.sh BUILD_DIR : `make -j2C` of the generated 64-file C
# project across 2 hosts x C cores (`spanvm run --local-hosts 2 --host-cpus C
# --place-exec least-loaded`: each host pinned to C CPUs of its own; exec'd
# compilers start on the host with the fewest running images, the short
# cc and as at the origin, deputies at the origin) against native
# `make -jC` pinned to C CPUs; ratio = native_s / spanvm_s, target >= 1.6
# (docs/ARCHITECTURE.md, "An exec placed on another node"). C = 1 on a
# 2-core machine. Each case runs BENCH_REPEAT times (median). Prints the
# ratio, writes bench/out/spawn_hosts.json and, with gnuplot,
# bench/out/spawn_hosts.png.
# The CPUs of a virtual machine need not be equal: on the 2-core PVM guest
# of bench/results/session-2026-12-06j, a fixed loop pinned to CPU 1 took
# 1.4-1.5x as long as on CPU 0 for some minutes, and the same on both later.
# So each run also times a fixed loop on every CPU of both hosts (before and
# after the makes, median of 3 each) and reports the ideal ratio, the two
# hosts' summed speed over host 0's, where native runs, and the efficiency,
# ratio / ideal (1.6 on equal hosts is an efficiency of 0.8).
# Knobs: SPANVM [BUILD_DIR/spanvm], CC [cc], BENCH_REPEAT [3], BENCH_MAKE_FILES [64],
# BENCH_MAKE_FUNCS [1] (functions per generated file: 1 is the tiny file of
# the tests, cc1 ~30 ms; 60 makes each compile ~1 s, a real source file's
# size, which asks how long a compile must be for placing it to pay),
# BENCH_PLACE_EXEC [least-loaded] (the --place-exec policy; round-robin
# places every exec in turn, cc and as included: bench/results/make2-2026-12-05),
# BENCH_HOST_CPUS [nproc/2], BENCH_PLATFORMS [every available one],
# BENCH_OUT [bench/out], BENCH_PLOT [1].
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"
bench_init spawn/hosts "$@"
FILES="${BENCH_MAKE_FILES:-64}"
FUNCS="${BENCH_MAKE_FUNCS:-1}"
PLACE="${BENCH_PLACE_EXEC:-least-loaded}"
C="${BENCH_HOST_CPUS:-$(($(nproc) / 2))}"
[ "$C" -ge 1 ] || die "needs at least 2 CPUs (2 hosts x 1)"
# CC: the C compiler's command line (default cc), as in bench/spawn/run.sh.
read -r -a CC_CMD <<<"${CC:-cc}"
for t in "${CC_CMD[0]}" make python3 taskset awk; do command -v "$t" >/dev/null || die "$t is not installed"; done
PLOT="${BENCH_PLOT:-1}"
command -v gnuplot >/dev/null || PLOT=0
if [ -n "${BENCH_PLATFORMS:-}" ]; then
    read -r -a PLATFORMS <<<"$BENCH_PLATFORMS"
else
    PLATFORMS=()
    for p in kvm native; do "$SPANVM" info --require "$p" >/dev/null 2>&1 && PLATFORMS+=("$p"); done
fi
[ ${#PLATFORMS[@]} -gt 0 ] || die "no platform can run here (spanvm info)"
mkdir -p "$OUT"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/spanvm-bench-hosts.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
"$REPO/tests/integration/gen_c_project.sh" "$WORK/proj" "$FILES" "$FUNCS" >/dev/null
MAKE="$(command -v make)"
# The first C usable CPUs: native's, and host 0's under --host-cpus.
FIRST="$(python3 -c 'import os,sys; print(",".join(map(str, sorted(os.sched_getaffinity(0))[:int(sys.argv[1])])))' "$C")"

# div A B: A / B to 4 decimals.
div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", a / b }'; }
median() { sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
now() { date +%s.%N; }
# make_s JOBS RUNNER... : median seconds of a clean `make -jJOBS`.
make_s() {
    local jobs=$1
    shift
    for _ in $(seq "$REPEAT"); do
        "$MAKE" -s -C "$WORK/proj" clean >/dev/null
        local t0 t1
        t0="$(now)"
        "$@" "$MAKE" -s -C "$WORK/proj" -j"$jobs" >/dev/null
        t1="$(now)"
        [ -x "$WORK/proj/prog" ] || die "make -j$jobs under '$*' built no binary"
        awk -v a="$t1" -v b="$t0" 'BEGIN { printf "%.3f\n", a - b }'
    done | median
}

# The CPUs of host 1 under --host-cpus: the next C usable ones.
SECOND="$(python3 -c 'import os,sys; c=int(sys.argv[1]); print(",".join(map(str, sorted(os.sched_getaffinity(0))[c:2*c])))' "$C")"
cat >"$WORK/spin.c" <<'EOC'
int main(void) { volatile unsigned long x = 0; for (unsigned long i = 0; i < 100000000UL; i++) x += i * i; return (int)(x & 1); }
EOC
"${CC_CMD[@]}" -O1 -o "$WORK/spin" "$WORK/spin.c"
# speed CPUS: the summed speed (loops per second) of the CPUs in CPUS, each
# the median of 3 timed runs of the loop pinned to it.
speed() {
    local cpu sum=0
    for cpu in ${1//,/ }; do
        local s
        s="$(for _ in 1 2 3; do
            local t0 t1
            t0="$(now)"; taskset -c "$cpu" "$WORK/spin" || true; t1="$(now)"
            awk -v a="$t1" -v b="$t0" 'BEGIN { printf "%.4f\n", a - b }'
        done | median)"
        sum="$(awk -v a="$sum" -v b="$s" 'BEGIN { printf "%.4f", a + 1 / b }')"
    done
    echo "$sum"
}
speed0_a="$(speed "$FIRST")"
speed1_a="$(speed "$SECOND")"
native="$(make_s "$C" taskset -c "$FIRST")"
rows=()
for p in "${PLATFORMS[@]}"; do
    s="$(make_s $((2 * C)) "$SPANVM" run --platform "$p" --local-hosts 2 --host-cpus "$C" --place-exec "$PLACE" --)"
    r="$(div "$native" "$s")"
    printf 'make %-6s make -j%s across 2 hosts x %s cores %8.2f s vs native make -j%s on %s cores %8.2f s: %.2fx (target >= 1.6)\n' \
        "$p" $((2 * C)) "$C" "$s" "$C" "$C" "$native" "$r"
    rows+=("\"platform\": \"$p\", \"hosts\": 2, \"cores_per_host\": $C, \"spanvm_s\": $s, \"native_s\": $native, \"ratio\": $r, \"target_min\": 1.6, \"make_files\": $FILES, \"funcs_per_file\": $FUNCS, \"place_exec\": \"$PLACE\"")
done
speed0_b="$(speed "$FIRST")"
speed1_b="$(speed "$SECOND")"
# Host 1's speed over host 0's, before and after; the ideal ratio and the
# efficiency use their mean.
rel_a="$(div "$speed1_a" "$speed0_a")"
rel_b="$(div "$speed1_b" "$speed0_b")"
ideal="$(awk -v a="$rel_a" -v b="$rel_b" 'BEGIN { printf "%.4f", 1 + (a + b) / 2 }')"
printf 'cpus   host 1 (CPUs %s) against host 0 (CPUs %s): %.2fx as fast before, %.2fx after; ideal ratio %.2f\n' \
    "$SECOND" "$FIRST" "$rel_a" "$rel_b" "$ideal"
for i in "${!rows[@]}"; do
    r="$(sed -E 's/.*"ratio": ([0-9.]+).*/\1/' <<<"${rows[$i]}")"
    e="$(div "$r" "$ideal")"
    printf 'make   efficiency %.2f (ratio / ideal; 1.6 on equal hosts is 0.80)\n' "$e"
    rows[$i]="{${rows[$i]}, \"host1_speed_vs_host0\": [$rel_a, $rel_b], \"ideal_ratio\": $ideal, \"efficiency\": $e}"
done
json="$OUT/spawn_hosts.json"
(IFS=,; echo "{\"bench\": \"spawn_hosts\", \"repeat\": $REPEAT, \"results\": [${rows[*]}]}") | python3 -m json.tool >"$json"
echo "wrote $json"
if [ "$PLOT" = 1 ]; then
    dat="$WORK/hosts.dat"
    python3 - "$json" >"$dat" <<'EOP'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(f'"{r["platform"]}" {r["ratio"]:.3f} 1.6')
EOP
    gnuplot <<EOG
set terminal png size 700,400
set output "$OUT/spawn_hosts.png"
set title "make -j$((2 * C)) on 2 hosts x $C cores vs native make -j$C (native/spanvm, higher is better)"
set style data histograms
set style fill solid 0.6
set yrange [0:*]
plot "$dat" using 2:xtic(1) title "ratio", "" using 3 title "target" with points pt 7 ps 2
EOG
    echo "wrote $OUT/spawn_hosts.png"
fi
