#!/usr/bin/env bash
# dynamic_twin.sh BUILD OUT: links OUT, a dynamically linked spanvm from the
# same objects as BUILD/spanvm (static-pie, SPANVM_STATIC=ON): the link line
# ninja uses, with libcrypto.so for libcrypto.a and the old full-RELRO
# options (-z now -z relro) for -static-pie. The two binaries then differ in
# how they are linked and in nothing else, for before/after runs:
#   bench/results/session-2026-12-06c/run.sh OUT BUILD/spanvm DIR 4
#   bench/results/session-2026-12-06d/placed_faults.sh OUT BUILD/spanvm
#   bench/results/session-2026-12-06d/hosts_interleaved.sh OUT BUILD/spanvm 3
set -euo pipefail
build=$(realpath "$1") out=$(realpath -m "$2")
cd "$build"
cmd=$(ninja -t commands spanvm | tail -1 | sed -e 's/^: && //' -e 's/ && :$//')
case "$cmd" in *-static-pie*) ;; *) echo "dynamic_twin: $build/spanvm is not linked with -static-pie" >&2; exit 1 ;; esac
cmd=${cmd/-o spanvm /-o $out }
cmd=${cmd//\/libcrypto.a/\/libcrypto.so}
cmd=${cmd/-static-pie/-Wl,-z,now -Wl,-z,relro}
eval "$cmd" 2>/dev/null
file "$out"
