#!/usr/bin/env bash
# hosts_interleaved.sh OLD NEW [ROUNDS] [FILES] [FUNCS]: `make -j2` of the
# generated project (FILES x FUNCS, default 16 x 60) over 2 hosts x 1 core
# (--local-hosts 2 --host-cpus 1 --place-exec least-loaded) under OLD and
# NEW, and native `make -j1` pinned to CPU 0, interleaved ROUNDS times
# (default 3). Per run: wall seconds, busy seconds of CPU 0 (the origin) and
# CPU 1 (host 1) from /proc/stat, page faults of the whole run (perf stat);
# then the median ratio native/spanvm per binary.
set -euo pipefail
old=$(realpath "$1") new=$(realpath "$2") rounds=${3:-3} files=${4:-16} funcs=${5:-60}
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
w="$(mktemp -d)"
trap 'rm -rf "$w"' EXIT
"$repo/tests/integration/gen_c_project.sh" "$w/proj" "$files" "$funcs" >/dev/null
busy() { awk '/^cpu[01] /{print $2+$3+$4+$7+$8}' /proc/stat | paste -sd' '; }
one() {  # one NAME CMD...
    local name=$1 a b t0 t1
    shift
    make -s -C "$w/proj" clean >/dev/null
    a=$(busy)
    t0=$(date +%s.%N)
    perf stat -x, -e page-faults -o "$w/ps" "$@" make -s -C "$w/proj" >/dev/null 2>&1
    t1=$(date +%s.%N)
    b=$(busy)
    [ -x "$w/proj/prog" ] || { echo "$name built no binary" >&2; exit 1; }
    python3 - "$name" "$t0" "$t1" "$a" "$b" "$(grep -v '^#' "$w/ps" | awk -F, 'NF>2{print $1}')" <<'P'
import sys
n, t0, t1, a, b, pf = sys.argv[1:]
a = list(map(int, a.split())); b = list(map(int, b.split()))
print(f"{n} wall {float(t1)-float(t0):.2f} cpu0 {(b[0]-a[0])/100:.2f} cpu1 {(b[1]-a[1])/100:.2f} faults {pf}")
P
}
for _ in $(seq "$rounds"); do
    one native taskset -c 0 env MAKEFLAGS=-j1
    one old "$old" run --local-hosts 2 --host-cpus 1 --place-exec least-loaded -- env MAKEFLAGS=-j2
    one new "$new" run --local-hosts 2 --host-cpus 1 --place-exec least-loaded -- env MAKEFLAGS=-j2
done | tee "$w/runs"
python3 - "$w/runs" <<'P'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
wall = {}
for r in rows: wall.setdefault(r[0], []).append(float(r[2]))
nat = statistics.median(wall["native"])
for b in ("old", "new"):
    print(f"{b}: median wall {statistics.median(wall[b]):.2f} s, native {nat:.2f} s: {nat / statistics.median(wall[b]):.2f}x (target >= 1.6)")
P
