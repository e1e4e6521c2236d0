#!/usr/bin/env bash
# measure.sh ROUNDS PROJ label=binary... : interleaved perf stat of make -j2 (native + each binary)
R=$1; P=$2; shift 2
EV=task-clock,user_time,system_time,page-faults,context-switches,syscalls:sys_enter_arch_prctl,syscalls:sys_enter_mprotect,syscalls:sys_enter_madvise,syscalls:sys_enter_mmap,signal:signal_deliver
for i in $(seq $R); do
  for lb in native "$@"; do
    l=${lb%%=*}; b=${lb#*=}
    make -s -C $P clean >/dev/null
    if [ $l = native ]; then cmd=(make -s -C $P -j2); else cmd=($b run --platform native -- make -s -C $P -j2); fi
    t0=$(date +%s.%N); out=$(perf stat -x, -e $EV -e tlb:tlb_flush --filter 'reason == 4' -- "${cmd[@]}" 2>&1 >/dev/null)
    t1=$(date +%s.%N); out="$out"$'\n'"$(echo "$t1 - $t0" | bc),,wall"
    echo "$out" | awk -F, -v l=$l -v i=$i 'BEGIN{printf "%s r%d", l, i} {n=$3; sub(/syscalls:sys_enter_/,"",n); sub(/signal:signal_/,"sig_",n); sub(/tlb:tlb_flush/,"ipi_send",n); if(n=="user_time"||n=="system_time") v=sprintf("%.2f",$1/1e9); else if(n=="task-clock") v=sprintf("%.2f",$1/1000); else v=$1; printf " %s=%s", n, v} END{print ""}'
  done
done
