#!/usr/bin/env bash
# spawn_counts.sh ROUNDS REPEAT label=binary... : perf stat of spawn_loop (native + each binary), interleaved
N=$1; R=$2; shift 2
EV=task-clock,user_time,system_time,page-faults,context-switches,syscalls:sys_enter_arch_prctl,syscalls:sys_enter_mprotect,syscalls:sys_enter_madvise,syscalls:sys_enter_mmap,signal:signal_deliver,syscalls:sys_enter_clone3
for i in $(seq $R); do
  for lb in native "$@"; do
    l=${lb%%=*}; b=${lb#*=}
    if [ $l = native ]; then cmd=(/tmp/hm1/spawn_loop $N); else cmd=($b run --platform native -- /tmp/hm1/spawn_loop $N); fi
    out=$(perf stat -x, -e $EV -- "${cmd[@]}" 2>&1)
    echo "$out" | awk -F, -v l=$l -v i=$i -v n=$N 'BEGIN{printf "%s r%d per-round:", l, i} /us_per_round/ {match($0,/"us_per_round": [0-9.]+/); w=substr($0,RSTART+16,RLENGTH-16); next} {k=$3; sub(/syscalls:sys_enter_/,"",k); sub(/signal:signal_/,"sig_",k); if(k=="user_time"||k=="system_time") v=sprintf("%.0fus",$1/1e3/n); else if(k=="task-clock") v=sprintf("%.0fus",$1*1000/n); else v=sprintf("%.1f",$1/n); printf " %s=%s", k, v} END{printf " wall=%sus\n", w}'
  done
done
