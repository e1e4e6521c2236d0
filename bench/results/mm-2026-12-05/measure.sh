#!/usr/bin/env bash
# measure.sh ROUNDS PROJ label=binary... : host mm calls and CPU of `make -s -j2`
# under each spanvm binary, and natively, on one host (native platform).
# 1. counts: strace -f -c of one build each (per-syscall counts, which do not
#    depend on the machine's load);
# 2. CPU: perf stat (task-clock, user, system, page faults, context switches
#    and the mm syscalls), ROUNDS rounds, native and the binaries interleaved.
# Prints one line per build; the project is cleaned before each.
set -euo pipefail
R=$1; P=$2; shift 2
for lb in native "$@"; do
    l=${lb%%=*}; b=${lb#*=}
    make -s -C "$P" clean >/dev/null
    if [ "$l" = native ]; then cmd=(make -s -C "$P" -j2); else cmd=("$b" run --platform native -- make -s -C "$P" -j2); fi
    out=$(mktemp)
    strace -f -c -o "$out" -- "${cmd[@]}" >/dev/null 2>&1
    printf 'counts %s' "$l"
    for s in mprotect mmap madvise munmap clone3 clone vfork; do
        printf ' %s=%s' "$s" "$(awk -v s=$s '$NF==s {print ($4 ~ /^[0-9]+$/ ? $4 : $3)}' "$out" | head -1)"
    done
    echo
    rm -f "$out"
done
EV=task-clock,user_time,system_time,page-faults,context-switches,syscalls:sys_enter_mprotect,syscalls:sys_enter_madvise,syscalls:sys_enter_mmap
for i in $(seq "$R"); do
    for lb in native "$@"; do
        l=${lb%%=*}; b=${lb#*=}
        make -s -C "$P" clean >/dev/null
        if [ "$l" = native ]; then cmd=(make -s -C "$P" -j2); else cmd=("$b" run --platform native -- make -s -C "$P" -j2); fi
        t0=$(date +%s.%N)
        out=$(perf stat -x, -e $EV -- "${cmd[@]}" 2>&1 >/dev/null)
        t1=$(date +%s.%N)
        echo "$out" | awk -F, -v l="$l" -v i="$i" -v w="$(echo "$t1 - $t0" | bc)" -v ld="$(cut -d' ' -f1 /proc/loadavg)" '
            BEGIN { printf "cpu %s r%d", l, i }
            $3 != "" { n=$3; sub(/syscalls:sys_enter_/,"",n)
                       if (n=="user_time"||n=="system_time") v=sprintf("%.2f",$1/1e9)
                       else if (n=="task-clock") v=sprintf("%.2f",$1/1000)
                       else v=$1
                       printf " %s=%s", n, v }
            END { printf " wall=%.2f load=%s\n", w, ld }'
    done
done
