#!/usr/bin/env bash
# one_placed_cc1.sh SPANVM PROJ [REPS] : one placed cc1 (`sh -c 'true; true;
# cc -c f0.c'` under --place-exec round-robin: true, true, cc, cc1 go to
# hosts 0, 1, 0, 1) on 2 hosts x 1 core, with the CPUs idle, with a
# nice-0 spinning loop pinned to the origin's CPU (0), and with one pinned
# to host 1's CPU (1). Prints the run's wall seconds per case.
# PROJ: tests/integration/gen_c_project.sh PROJ 16 60.
set -euo pipefail
spanvm="$(realpath "$1")"
cd "$2"
json="$(mktemp)"
trap 'rm -f "$json"' EXIT
t() {
    local t0 t1
    t0=$(date +%s.%N)
    "$spanvm" run --local-hosts 2 --host-cpus 1 --place-exec round-robin --json "$json" -- \
        sh -c 'true; true; cc -O2 -c -o f0.o f0.c'
    t1=$(date +%s.%N)
    python3 -c "
import json, sys
r = json.load(open(sys.argv[1]))
print(sys.argv[2], round(float(sys.argv[3]), 2), ' '.join(f\"{p['program']}@{p['node']}:fwd{p['node_syscalls_forwarded']}\" for p in r['processes'] if p['program'] in ('cc1', 'cc')))
" "$json" "$1" "$(echo "$t1 - $t0" | bc -l)"
}
for _ in $(seq "${3:-3}"); do
    t idle
    for cpu in 0 1; do
        taskset -c "$cpu" sh -c 'while :; do :; done' &
        hog=$!
        t "hog$cpu"
        kill "$hog"
    done
done
