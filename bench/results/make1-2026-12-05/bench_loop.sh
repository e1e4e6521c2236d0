#!/usr/bin/env bash
cd /work/h-make1
R=bench/results/make1-2026-12-05
for i in 1 2; do
  for b in old new; do
    if [ $b = old ]; then S=/work/s62f-spanvm; else S=/tmp/hm1/new-spanvm; fi
    echo "=== run $i $b ($S) $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)"
    SPANVM=$S BENCH_REPEAT=3 BENCH_OUT=$R/$b-$i bench/spawn/run.sh build 2>&1
  done
done
echo "=== done $(date -u +%H:%M:%S)"
