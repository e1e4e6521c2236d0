#!/usr/bin/env bash
# sources.sh PROJ label=binary... : where each host mprotect/mmap/madvise of
# one `make -s -j2` under each binary comes from (strace -f -k, sources.py).
set -euo pipefail
P=$1; shift
here=$(cd "$(dirname "$0")" && pwd)
for lb in "$@"; do
    l=${lb%%=*}; b=${lb#*=}
    make -s -C "$P" clean >/dev/null
    t=$(mktemp)
    strace -f -k -e trace=mprotect,madvise,mmap -o "$t" -- "$b" run --platform native -- make -s -C "$P" -j2 >/dev/null 2>&1
    echo "=== $l ($b)"
    python3 "$here/sources.py" "$t" 4 | head -30
    rm -f "$t"
done
