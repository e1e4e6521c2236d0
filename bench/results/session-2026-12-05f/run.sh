#!/usr/bin/env bash
# This session's before/after in one run, old and new interleaved (issue 14):
#   1. counts: SIGSYS traps and host mm calls of one-host `make -j2` (16 tiny
#      files, strace -f -c), and what one placed cc1 costs when it is the
#      first exec placed on host 1 (node_pages_fetched / filled, --json);
#   2. CPU: one-host `make -j2` of 64 tiny files, perf stat task-clock,
#      native / old / new, 3 rounds;
#   3. bench/spawn/run.sh (fork+exec+wait and one-host make, wall), old, new;
#   4. bench/spawn/hosts.sh (make -j2 over 2 hosts x 1 core against native
#      -j1), 16 files x 60 functions and 64 tiny files, old then new, 2 rounds.
# Usage: run.sh OLD_SPANVM NEW_SPANVM OUTDIR
set -euo pipefail
old=$(realpath "$1") new=$(realpath "$2") out=$3
repo="$(cd "$(dirname "$0")/../../.." && pwd)"
mkdir -p "$out"
w="$(mktemp -d /tmp/session-f.XXXXXX)"
trap 'rm -rf "$w"' EXIT
"$repo/tests/integration/gen_c_project.sh" "$w/t16" 16 1 >/dev/null
"$repo/tests/integration/gen_c_project.sh" "$w/t64" 64 1 >/dev/null
"$repo/tests/integration/gen_c_project.sh" "$w/p1" 1 60 >/dev/null

# 1a. traps and host mm calls per one-host make -j2 (16 tiny files)
: > "$out/counts.txt"
for tag in old new; do
    bin=$old; [ $tag = new ] && bin=$new
    make -s -C "$w/t16" clean >/dev/null
    strace -f -qq -c -o "$w/st-$tag.txt" "$bin" run -- make -s -C "$w/t16" -j2 >/dev/null 2>&1
    make -s -C "$w/t16" clean >/dev/null
    sig=$(strace -f -qq -e trace=none -e signal=SIGSYS -o "$w/sig-$tag.txt" "$bin" run -- make -s -C "$w/t16" -j2 >/dev/null 2>&1; grep -c SIGSYS "$w/sig-$tag.txt")
    calls=$(awk '$NF ~ /^(mprotect|madvise|mmap|munmap|arch_prctl|clone3|clone)$/ {printf "%s=%s ", $NF, ($5 ~ /^[0-9]+$/ ? $4 : $4)}' "$w/st-$tag.txt")
    echo "make -j2 t16 $tag: SIGSYS $sig; host calls: $calls" | tee -a "$out/counts.txt"
done
# 1b. one placed cc1 as the first exec on host 1 (its session spawned, not started ahead)
for round in 1 2; do
    for tag in old new; do
        bin=$old; [ $tag = new ] && bin=$new
        (cd "$w/p1" && "$bin" run --local-hosts 2 --host-cpus 1 --place-exec round-robin --json "$w/j.json" -- \
            sh -c 'cc -c f0.c -o f0.o') >/dev/null 2>&1
        echo "first placed cc1 r$round $tag: $(jq -c '[.processes[] | select(.node==1) | {program, node_pages_fetched, node_pages_filled, node_syscalls_forwarded}]' "$w/j.json")" | tee -a "$out/counts.txt"
    done
done

# 2. CPU of one-host make -j2, 64 tiny files
: > "$out/cpu.txt"
cpu() { make -s -C "$w/t64" clean >/dev/null; perf stat -x, -e task-clock -- "$@" >/dev/null 2>"$w/ps.txt"; cut -d, -f1 "$w/ps.txt" | tail -1; }
for round in 1 2 3; do
    n=$(cpu make -s -C "$w/t64" -j2); o=$(cpu "$old" run -- make -s -C "$w/t64" -j2); m=$(cpu "$new" run -- make -s -C "$w/t64" -j2)
    echo "round $round CPU ms: native $n old $o new $m; native/spanvm old $(echo "$n / $o" | bc -l | xargs printf '%.3f') new $(echo "$n / $m" | bc -l | xargs printf '%.3f')" | tee -a "$out/cpu.txt"
done

# 3. bench/spawn/run.sh
: > "$out/spawn.txt"
for tag in old new; do
    bin=$old; [ $tag = new ] && bin=$new
    env BENCH_REPEAT=3 BENCH_PLOT=0 SPANVM="$bin" BENCH_PLATFORMS=native BENCH_OUT="$out/spawn-$tag" "$repo/bench/spawn/run.sh" "$repo/build" 2>&1 |
        grep -E 'ratio|x native|native' | sed "s/^/$tag: /" | tee -a "$out/spawn.txt"
done

# 4. bench/spawn/hosts.sh
: > "$out/hosts.txt"
for round in 1 2; do
    for tag in old new; do
        bin=$old; [ $tag = new ] && bin=$new
        for proj in big tiny; do
            extra=(); [ $proj = big ] && extra=(BENCH_MAKE_FILES=16 BENCH_MAKE_FUNCS=60)
            env BENCH_REPEAT=1 BENCH_PLOT=0 "${extra[@]}" SPANVM="$bin" BENCH_PLATFORMS=native \
                BENCH_OUT="$out/hosts-$proj-$tag-$round" "$repo/bench/spawn/hosts.sh" "$repo/build" 2>&1 |
                grep -E 'ratio|native|spanvm' | sed "s/^/$proj $tag r$round: /" | tee -a "$out/hosts.txt"
        done
    done
done
