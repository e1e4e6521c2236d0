#!/bin/bash
# abba.sh OLD_SPANVM NEW_SPANVM [ROUNDS]: the same-run comparison of this
# session's figures, each case interleaved A B B A, means printed:
#   fork   fork+_exit+waitpid inside one guest (fork_loop.c), us per round
#   spawn  `sh` running /bin/true 300 times (loop.sh), CPU ms per round
#   make   a clean `make -j2` of the generated 64-file project, wall and CPU
#          seconds (bench/results/session-2026-12-07b/make_cpu.sh), and native
set -euo pipefail
A=$1 B=$2 R=${3:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
cc -O2 -o "$W/fork_loop" "$HERE/fork_loop.c"
"$REPO/tests/integration/gen_c_project.sh" "$W/proj" 64 >/dev/null
fork_us() { "$1" run --platform native -- "$W/fork_loop" 300 | awk '{print $(NF-1)}'; }
spawn_ms() { perf stat -x, -e task-clock "$1" run --platform native -- "$HERE/loop.sh" 300 /bin/true 2>&1 >/dev/null | awk -F, '{printf "%.3f\n", $1/300}'; }
make_s() { bash "$REPO/bench/results/session-2026-12-07b/make_cpu.sh" "$W/proj" x "$@" | awk '{print $3, $5}'; }
for i in $(seq "$R"); do
  for who in A B B A; do
    bin=$A; [ $who = B ] && bin=$B
    echo "fork $who $(fork_us "$bin")"
    echo "spawn $who $(spawn_ms "$bin")"
    echo "make $who $(make_s "$bin" run --platform native --)"
  done
  echo "make native $(make_s env)"
done | awk '{k=$1" "$2; s[k]+=$3; t[k]+=$4; n[k]++} END {for (k in n) printf "%-12s %8.3f %8.3f (n=%d)\n", k, s[k]/n[k], t[k]/n[k], n[k]}' | sort
