#!/usr/bin/env bash
# before/after interleaved, same session
cd /work/h-fast
for round in 1 2; do
  for who in after before; do
    if [ $who = after ]; then bin=/work/h-fast/build/spanvm; else bin=/work/before-spanvm; fi
    SPANVM=$bin BENCH_OUT=/tmp/hf-bench/$who-$round BENCH_REPEAT=1 BENCH_PIGZ_MIB=8 BENCH_SYSBENCH_TIME=2 BENCH_CPU_ITERS=100000000 \
      nice bench/process/run.sh build > /tmp/hf-bench/$who-$round.log 2>&1
    echo "$who $round rc=$?" >> /tmp/hf-bench/status
  done
done
echo all-done >> /tmp/hf-bench/status
