#!/usr/bin/env bash
# map_window.sh SPANVM [ROUNDS] [FILES] [FUNCS]: mapping windows
# (docs/dsm-protocol.md F9) off and on, in one run, interleaved ROUNDS times
# (default 3; off first in odd rounds, on first in even ones) with native
# `make -j1` pinned to CPU 0: `make -j2` of the
# generated project (FILES x FUNCS, default 16 x 60) over 2 hosts x 1 core
# (--local-hosts 2 --host-cpus 1 --place-exec least-loaded). Per run: wall
# seconds, busy seconds of CPU 0 (the origin) and CPU 1 (host 1) from
# /proc/stat, and from --json the placed images' calls forwarded and
# answered on their node and pages fetched (summed over the processes that
# ran on node 1). Then the medians and the ratio native/spanvm.
set -euo pipefail
bin=$(realpath "$1") rounds=${2:-3} files=${3:-16} funcs=${4:-60}
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
w="$(mktemp -d)"
trap 'rm -rf "$w"' EXIT
"$repo/tests/integration/gen_c_project.sh" "$w/proj" "$files" "$funcs" >/dev/null
busy() { awk '/^cpu[01] /{print $2+$3+$4+$7+$8}' /proc/stat | paste -sd' '; }
one() {  # one NAME JSON CMD...
    local name=$1 json=$2 a b t0 t1
    shift 2
    make -s -C "$w/proj" clean >/dev/null
    a=$(busy)
    t0=$(date +%s.%N)
    "$@" make -s -C "$w/proj" >/dev/null 2>&1
    t1=$(date +%s.%N)
    b=$(busy)
    [ -x "$w/proj/prog" ] || { echo "$name built no binary" >&2; exit 1; }
    python3 - "$name" "$t0" "$t1" "$a" "$b" "$json" <<'P'
import json, os, sys
n, t0, t1, a, b, js = sys.argv[1:]
a = list(map(int, a.split())); b = list(map(int, b.split()))
extra = ""
if js != "-" and os.path.exists(js):
    ps = [p for p in json.load(open(js)).get("processes", []) if p.get("node") == 1]
    s = lambda k: sum(p.get(k, 0) for p in ps)
    extra = f" placed {len(ps)} forwarded {s('node_syscalls_forwarded')} local {s('node_syscalls_local')} fetched {s('node_pages_fetched')}"
print(f"{n} wall {float(t1)-float(t0):.2f} cpu0 {(b[0]-a[0])/100:.2f} cpu1 {(b[1]-a[1])/100:.2f}{extra}")
P
}
for r in $(seq "$rounds"); do
    one native - taskset -c 0 env MAKEFLAGS=-j1
    # Off first in odd rounds, on first in even ones: no order favours either.
    order="0 1"
    [ $((r % 2)) = 0 ] && order="1 0"
    for W in $order; do
        one "windows$W" "$w/j$W.json" env SPANVM_MAP_WINDOW=$W "$bin" run --json "$w/j$W.json" --local-hosts 2 --host-cpus 1 \
            --place-exec least-loaded -- env MAKEFLAGS=-j2
    done
done | tee "$w/runs"
python3 - "$w/runs" <<'P'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
by = {}
for r in rows:
    d = dict(zip(r[1::2], r[2::2]))
    by.setdefault(r[0], []).append(d)
med = lambda name, k: statistics.median(float(d[k]) for d in by[name])
nat = med("native", "wall")
for n in ("windows0", "windows1"):
    print(f"{n}: median wall {med(n, 'wall'):.2f} s ({nat / med(n, 'wall'):.2f}x native {nat:.2f} s), "
          f"forwarded {med(n, 'forwarded'):.0f}, answered on the node {med(n, 'local'):.0f}, "
          f"pages fetched {med(n, 'fetched'):.0f} (medians)")
P
