#!/usr/bin/env bash
# The session's before/after, interleaved: bench/spawn/hosts.sh (tiny files,
# and 16 files of 60 functions: ~1 s compiles) and bench/cluster/scaling.sh,
# for OLD and NEW binaries. Usage: run.sh OLD NEW OUTDIR
set -euo pipefail
old=$1 new=$2 out=$3
repo="$(cd "$(dirname "$0")/../../.." && pwd)"
mkdir -p "$out"
for round in 1 2; do
    for tag in old new; do
        bin=$old; [ $tag = new ] && bin=$new
        BENCH_REPEAT=1 BENCH_PLOT=0 SPANVM=$bin BENCH_OUT="$out/hosts-tiny-$tag-$round" "$repo/bench/spawn/hosts.sh" "$repo/build" | tee -a "$out/hosts.txt"
        BENCH_REPEAT=1 BENCH_PLOT=0 BENCH_MAKE_FILES=16 BENCH_MAKE_FUNCS=60 SPANVM=$bin BENCH_OUT="$out/hosts-big-$tag-$round" "$repo/bench/spawn/hosts.sh" "$repo/build" | sed "s/^/big($tag) /" | tee -a "$out/hosts.txt"
    done
done
for tag in old new; do
    bin=$old; [ $tag = new ] && bin=$new
    BENCH_PLOT=0 SPANVM=$bin SPANVM_PLATFORM=native BENCH_OUT="$out/scaling-$tag" "$repo/bench/cluster/scaling.sh" "$repo/build" 2>&1 | tail -12 | sed "s/^/$tag /" | tee -a "$out/scaling.txt"
done
