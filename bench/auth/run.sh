#!/usr/bin/env bash
# bench/auth/run.sh BUILD_DIR : what cluster authentication and --encrypt
# cost, in one run, on the figures of bench/dsm and bench/cluster:
#   dsm      `spanvm dsm-node` on 2 loopback nodes: bench-remote-read and
#            bench-ping-pong p50/p99 (one page fault = one request/response
#            round trip on the transport);
#   cluster  `spanvm run --local-hosts 2`: bench_fsops forwarded from node 1
#            (open, mkdir, a 64 KiB read: each a round trip on a syscall
#            channel) and the start-up of /bin/true on 2 hosts (which pays
#            the handshakes: node-to-node and one syscall channel).
# Modes, interleaved round by round so drift hits all alike:
#   noauth   OLD_SPANVM, a build from before authentication (optional: set
#            OLD_SPANVM to e.g. the main branch's build/spanvm);
#   auth     this build (authenticated handshake, plain traffic);
#   encrypt  this build with --encrypt (AES-256-GCM records).
# Prints medians and the ratios auth/noauth and encrypt/auth; writes
# BENCH_OUT/auth.json (default bench/out). Knobs: BENCH_AUTH_ROUNDS [3],
# BENCH_AUTH_DSM_ITERS [2000], BENCH_AUTH_FS_ITERS [200],
# BENCH_AUTH_STARTUP_RUNS [5]. Not a test: nothing is enforced.
set -euo pipefail
[ $# = 1 ] || { echo "usage: bench/auth/run.sh BUILD_DIR" >&2; exit 2; }
BUILD="$(cd "$1" && pwd)" || { echo "bench/auth: build dir '$1' does not exist" >&2; exit 1; }
HERE="$(cd "$(dirname "$0")" && pwd)"
export SPANVM="${SPANVM:-$BUILD/spanvm}" FSOPS="$BUILD/bench/cluster/bench_fsops"
export BENCH_OUT="${BENCH_OUT:-$HERE/../out}"
mkdir -p "$BENCH_OUT"
exec python3 "$HERE/run.py"
