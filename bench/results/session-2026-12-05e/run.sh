#!/usr/bin/env bash
# This session's before/after in one run, old and new interleaved:
#   1. bench/spawn/hosts.sh, 16 files x 60 functions and 64 tiny files,
#      old binary with --place-exec round-robin and least-loaded, new with
#      least-loaded (its default since h-make2), 2 rounds;
#   2. forwarded calls per placed exec (fwd-2026-12-05/run.sh: counts);
#   3. bench/cluster/scaling.sh, old then new (the five workloads).
# Usage: run.sh OLD_SPANVM NEW_SPANVM OUTDIR
set -euo pipefail
old=$1 new=$2 out=$3
repo="$(cd "$(dirname "$0")/../../.." && pwd)"
mkdir -p "$out"
: > "$out/hosts.txt"
for round in 1 2; do
    for run in old:round-robin old:least-loaded new:least-loaded; do
        tag=${run%%:*} policy=${run#*:}
        bin=$old; [ "$tag" = new ] && bin=$new
        for proj in big tiny; do
            extra=(); [ $proj = big ] && extra=(BENCH_MAKE_FILES=16 BENCH_MAKE_FUNCS=60)
            env BENCH_REPEAT=1 BENCH_PLOT=0 "${extra[@]}" SPANVM="$bin" BENCH_PLACE_EXEC="$policy" \
                BENCH_OUT="$out/hosts-$proj-$tag-$policy-$round" "$repo/bench/spawn/hosts.sh" "$repo/build" 2>&1 |
                grep -E 'ratio|native|spanvm' | sed "s/^/$proj $tag $policy r$round: /" | tee -a "$out/hosts.txt"
        done
    done
done
"$repo/bench/results/fwd-2026-12-05/run.sh" "$old" "$new" 2>&1 | tee "$out/forwarded.txt"
for tag in old new; do
    bin=$old; [ $tag = new ] && bin=$new
    BENCH_PLOT=0 SPANVM=$bin SPANVM_PLATFORM=native BENCH_OUT="$out/scaling-$tag" "$repo/bench/cluster/scaling.sh" "$repo/build" 2>&1 | tail -12 | sed "s/^/$tag /" | tee -a "$out/scaling.txt"
done
