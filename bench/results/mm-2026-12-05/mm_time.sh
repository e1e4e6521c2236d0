#!/usr/bin/env bash
# mm_time.sh PROJ label=binary... : time spent inside the host mm system
# calls of one `make -s -j2` (perf trace -s: per call, from entry to exit,
# so it includes waits for TLB-flush IPIs), native first, then each binary.
set -euo pipefail
P=$1; shift
for lb in native= "$@"; do
    l=${lb%%=*}; b=${lb#*=}
    make -s -C "$P" clean >/dev/null
    if [ -z "$b" ]; then cmd=(make -s -C "$P" -j2); else cmd=("$b" run --platform native -- make -s -C "$P" -j2); fi
    t=$(mktemp)
    perf trace -s -e mprotect,mmap,madvise,munmap -o "$t" -- "${cmd[@]}" >/dev/null 2>&1
    awk -v l="$l" '
        $1 ~ /^(mprotect|mmap|madvise|munmap)$/ && $2 ~ /^[0-9]+$/ { n[$1] += $2; ms[$1] += $4 }
        END { printf "%s", l; t = 0
              for (k in n) { printf " %s=%d/%.0fms(%.0fus)", k, n[k], ms[k], 1000 * ms[k] / n[k]; t += ms[k] }
              printf " total=%.0fms\n", t }' "$t"
    rm -f "$t"
done
