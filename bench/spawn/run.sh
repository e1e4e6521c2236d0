#!/usr/bin/env bash
# bench/spawn/run.sh BUILD_DIR : programs that start programs, spanvm vs.
# native, for every platform this host can run, in one invocation:
#   spawn  fork + execve(/bin/true) + waitpid, microseconds per round
#          (spawn_loop.c); ratio = spanvm_us / native_us        target <= 3
#   make   `make -jC` of the generated 64-file C project
#          (tests/integration/gen_c_project.sh), C = usable CPUs, wall time;
#          ratio = native_s / spanvm_s                         target >= 0.85
#          once per project size of BENCH_MAKE_FUNCS: 64 tiny files, where
#          the start of each process dominates, and 64 files of a real
#          source file's size
#          (also by CPU time, user + system of make and its children:
#          native_cpu_s / spanvm_cpu_s, steadier under the host's load)
# Native and each platform take turns, BENCH_REPEAT rounds (medians), after
# one untimed make each. Prints one line per ratio,
# writes bench/out/spawn.json and, with gnuplot, bench/out/spawn.png.
# Knobs: SPANVM [BUILD_DIR/spanvm], CC [cc], BENCH_REPEAT [3], BENCH_SPAWN_ROUNDS [200],
# BENCH_MAKE_FILES [64], BENCH_MAKE_FUNCS ["1 60"] (functions per generated
# file, one project per number, as in bench/spawn/hosts.sh: 1 is the tiny file
# of the tests, cc1 ~30 ms; 60 a real source file's size, a compile ~0.7 s),
# BENCH_PLATFORMS [every available one],
# BENCH_OUT [bench/out], BENCH_PLOT [1] (0: no PNG).
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"
bench_init spawn "$@"
ROUNDS="${BENCH_SPAWN_ROUNDS:-200}"
FILES="${BENCH_MAKE_FILES:-64}"
read -r -a FUNCS <<<"${BENCH_MAKE_FUNCS:-1 60}"
for f in "${FUNCS[@]}"; do [[ "$f" =~ ^[1-9][0-9]*$ ]] || die "BENCH_MAKE_FUNCS: '$f' is not a positive integer"; done
C="$(nproc)"
# CC: the C compiler (a command line; default cc), for spawn_loop and, through
# make's environment, the project: scripts/kvm-check --run-kit sets it to the
# kit's toolchain on a machine without one.
read -r -a CC_CMD <<<"${CC:-cc}"
for t in "${CC_CMD[0]}" make python3 awk; do command -v "$t" >/dev/null || die "$t is not installed (scripts/install-deps.sh)"; done
PLOT="${BENCH_PLOT:-1}"
if [ "$PLOT" = 1 ] && ! command -v gnuplot >/dev/null; then
    echo "bench/spawn: gnuplot not installed: JSON only" >&2
    PLOT=0
fi
if [ -n "${BENCH_PLATFORMS:-}" ]; then
    read -r -a PLATFORMS <<<"$BENCH_PLATFORMS"
else
    PLATFORMS=()
    for p in kvm native; do "$SPANVM" info --require "$p" >/dev/null 2>&1 && PLATFORMS+=("$p"); done
fi
[ ${#PLATFORMS[@]} -gt 0 ] || die "no platform can run here (spanvm info)"
mkdir -p "$OUT"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/spanvm-bench-spawn.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
"${CC_CMD[@]}" -O2 -o "$WORK/spawn_loop" "$HERE/spawn_loop.c"
for f in "${FUNCS[@]}"; do "$REPO/tests/integration/gen_c_project.sh" "$WORK/proj$f" "$FILES" "$f" >/dev/null; done
MAKE="$(command -v make)"

# div A B: A / B to 4 decimals.
div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", a / b }'; }
median() { sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
now() { date +%s.%N; }

# spawn_once RUNNER... : microseconds per round of one spawn_loop run.
spawn_once() {
    "$@" "$WORK/spawn_loop" "$ROUNDS" | python3 -c 'import json,sys; print(json.load(sys.stdin)["us_per_round"])'
}
# make_once F RUNNER... : "WALL CPU" of one clean `make -jC` of the project
# with F functions per file: its seconds and the CPU seconds (user + system)
# it and its children used. The CPU time swings less with the host's load
# than the wall time does.
make_once() {
    local proj="$WORK/proj$1"
    shift
    "$MAKE" -s -C "$proj" clean >/dev/null
    python3 - "$@" "$MAKE" -s -C "$proj" -j"$C" <<'EOP'
import resource, subprocess, sys, time
t0 = time.monotonic()
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=False)
t1 = time.monotonic()
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"{t1 - t0:.3f} {r.ru_utime + r.ru_stime:.3f}")
EOP
    [ -x "$proj/prog" ] || die "make -j$C under '$*' built no binary"
}
# Native and every platform take turns, round after round, after one untimed
# build each: the host's speed drifts over minutes and its page cache is
# trimmed of files unused for a while (DAMON reclaim on the PVM hosts of
# bench/results/session-2026-12-07e), so runs taken one after the other
# would compare different machines.
median_of() { printf '%s\n' "$@" | median; }
# "host": the programs without spanvm; a platform's name: under spanvm.
runner() { if [ "$1" = host ]; then echo env; else echo "$SPANVM run --platform $1 --"; fi; }
CASES=(host "${PLATFORMS[@]}")
declare -A SPAWN=() MAKE_WALL=() MAKE_CPU=()
for k in "${CASES[@]}"; do
    read -r -a R <<<"$(runner "$k")"
    for f in "${FUNCS[@]}"; do make_once "$f" "${R[@]}" >/dev/null; done
done
for _ in $(seq "$REPEAT"); do
    for k in "${CASES[@]}"; do
        read -r -a R <<<"$(runner "$k")"
        SPAWN[$k]+="$(spawn_once "${R[@]}") "
        for f in "${FUNCS[@]}"; do
            read -r w c <<<"$(make_once "$f" "${R[@]}")"
            MAKE_WALL[$k:$f]+="$w "
            MAKE_CPU[$k:$f]+="$c "
        done
    done
done
# shellcheck disable=SC2086 # the lists split into their numbers
native_spawn="$(median_of ${SPAWN[host]})"
rows=()
for p in "${PLATFORMS[@]}"; do
    # shellcheck disable=SC2086
    s="$(median_of ${SPAWN[$p]})"
    rs="$(div "$s" "$native_spawn")"
    printf 'spawn %-6s fork+exec+wait /bin/true %8.1f us vs native %8.1f us: %.2fx (target <= 3)\n' "$p" "$s" "$native_spawn" "$rs"
    makes=()
    for f in "${FUNCS[@]}"; do
        # shellcheck disable=SC2086
        native_make="$(median_of ${MAKE_WALL[host:$f]})"
        # shellcheck disable=SC2086
        native_make_cpu="$(median_of ${MAKE_CPU[host:$f]})"
        # shellcheck disable=SC2086
        m="$(median_of ${MAKE_WALL[$p:$f]})"
        # shellcheck disable=SC2086
        m_cpu="$(median_of ${MAKE_CPU[$p:$f]})"
        rm_="$(div "$native_make" "$m")"
        rc="$(div "$native_make_cpu" "$m_cpu")"
        printf 'make  %-6s make -j%s %s files x %-3s functions %8.2f s  vs native %8.2f s : %.2fx (target >= 0.85)\n' \
            "$p" "$C" "$FILES" "$f" "$m" "$native_make" "$rm_"
        printf 'make  %-6s the same by CPU time                %8.2f s  vs native %8.2f s : %.2fx\n' "$p" "$m_cpu" "$native_make_cpu" "$rc"
        makes+=("{\"funcs_per_file\": $f, \"make_s\": $m, \"native_make_s\": $native_make, \"make_ratio\": $rm_, \"make_cpu_s\": $m_cpu, \"native_make_cpu_s\": $native_make_cpu, \"make_cpu_ratio\": $rc}")
    done
    rows+=("{\"platform\": \"$p\", \"spawn_us\": $s, \"native_spawn_us\": $native_spawn, \"spawn_ratio\": $rs, \"spawn_target_max\": 3, \"make_target_min\": 0.85, \"make_jobs\": $C, \"make_files\": $FILES, \"make\": [$(IFS=,; echo "${makes[*]}")]}")
done
json="$OUT/spawn.json"
(IFS=,; echo "{\"bench\": \"spawn\", \"repeat\": $REPEAT, \"spawn_rounds\": $ROUNDS, \"results\": [${rows[*]}]}") | python3 -m json.tool >"$json"
echo "wrote $json"
if [ "$PLOT" = 1 ]; then
    dat="$WORK/spawn.dat"
    python3 - "$json" >"$dat" <<'EOP'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(f'"spawn {r["platform"]}" {r["spawn_ratio"]:.3f} 3')
    for m in r["make"]:
        print(f'"make {r["platform"]} x{m["funcs_per_file"]}" {m["make_ratio"]:.3f} 0.85')
EOP
    gnuplot <<EOG
set terminal png size 800,450
set output "$OUT/spawn.png"
set title "spanvm vs native: spawn (spanvm/native, lower is better) and make -j$C (native/spanvm, higher is better)"
set style data histograms
set style fill solid 0.6
set boxwidth 0.8
set yrange [0:*]
set ylabel "ratio"
plot "$dat" using 2:xtic(1) title "ratio", "" using 3 title "target" with points pt 7 ps 2
EOG
    echo "wrote $OUT/spawn.png"
fi
# make -j2C across 2 hosts x C cores (--place-exec): its own script, same run.
"$HERE/hosts.sh" "$BUILD"
