#!/usr/bin/env bash
# placed_faults.sh OLD NEW [ROUNDS]: page faults and CPU of a run of 20
# /bin/true under `sh` over 2 hosts x 1 core with --place-exec round-robin
# (10 execs placed on host 1, each a deputy at the origin and a session on
# host 1), OLD and NEW interleaved ROUNDS times (default 3). perf stat
# counts every process of the run (the nodes are its children). The fault
# counts do not depend on the host's load; the CPU does.
set -euo pipefail
old=$(realpath "$1") new=$(realpath "$2") rounds=${3:-3}
script='for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do /bin/true; done'
w="$(mktemp -d)"
trap 'rm -rf "$w"' EXIT
for _ in $(seq "$rounds"); do
    for b in old new; do
        bin=$old
        [ "$b" = new ] && bin=$new
        perf stat -x, -e page-faults,task-clock -o "$w/ps" \
            "$bin" run --local-hosts 2 --host-cpus 1 --place-exec round-robin -- sh -c "$script" >/dev/null 2>&1
        echo "$b $(grep -v '^#' "$w/ps" | awk -F, 'NF>2{printf "%s ", $1}')"
    done
done
