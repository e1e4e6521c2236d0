#!/usr/bin/env bash
# bench/dsm/memory.sh BUILD_DIR [PAGES]: the DSM memory figure of issue 8.
# A region of PAGES pages (default 1048576 = 4 GiB) homed at node 0 is fully
# written by node 1 (workload `fill`, 4 threads); each node then reports
# VmRSS from /proc/self/status and the pages it holds. Prints node 0's CHECK
# line (RSS beyond the held pages, as a fraction of the region; the target is
# <= 1%) and writes bench/out/dsm-memory.json. Not a test. Takes minutes
# (one remote fault per page).
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: bench/dsm/memory.sh BUILD_DIR [PAGES]" >&2; exit 2; }
build="$(cd "$1" && pwd)"
pages="${2:-1048576}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="$repo/bench/out"
mkdir -p "$out/dsm"
export SPANVM="${SPANVM:-$build/spanvm}"
"$repo/scripts/dsm-launch" --nodes 2 --timeout 1500 --out "$out/dsm/run-memory" -- \
    --workload fill --pages "$pages" --home node:0 --threads 4 --timeout-s 1400 \
    --json "$out/dsm/memory-{node}.json"
cp "$out/dsm/memory-0.json" "$out/dsm-memory.json"
echo "wrote $out/dsm-memory.json"
