#!/usr/bin/env bash
# house.includes.planted: the include check must fail on violations planted in
# a copy of the tree, one per kind of rule, and name each one.
set -euo pipefail
src="$1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
copy() { cp -r "$src"/{docs,scripts,vmm,net,guest-shim} "$tmp"/; }
expect_fail() {  # $1: description, $2: text the report must contain
    local out rc=0
    out=$(python3 "$tmp/scripts/check-house" --root "$tmp" 2>&1) || rc=$?
    if [ "$rc" -ne 1 ]; then echo "FAIL: $1: check exited $rc, want 1"; echo "$out"; exit 1; fi
    if ! grep -qF -- "$2" <<<"$out"; then echo "FAIL: $1: report lacks '$2'"; echo "$out"; exit 1; fi
    echo "ok: $1"
}

copy
python3 "$tmp/scripts/check-house" --root "$tmp" >/dev/null   # the copy is clean
# 1. A "never" line: the process layer includes the cluster.
echo '#include "vmm/cluster/origin_cluster.hpp"' >> "$tmp/vmm/process/process.cpp"
expect_fail "process -> cluster" "vmm/process/process.cpp:$(wc -l < "$tmp/vmm/process/process.cpp"): process must never include cluster"

rm -rf "$tmp"/*; copy
# 2. A "never" line: the platform seam includes the process layer.
sed -i '0,/#include "vmm/s//#include "vmm\/process\/process.hpp"\n#include "vmm/' "$tmp/vmm/platform/vcpu.hpp"
expect_fail "platform -> process" "platform must never include process"

rm -rf "$tmp"/*; copy
# 3. Only a "may" line: the DSM engine includes the time room.
echo '#include "vmm/time/timekeeper.hpp"' >> "$tmp/vmm/dsm/protocol.cpp"
expect_fail "dsm -> time (not allowed)" "dsm may not include time"

rm -rf "$tmp"/*; copy
# 4. A source folder in no room.
mkdir -p "$tmp/vmm/attic" && echo 'int x;' > "$tmp/vmm/attic/x.cpp"
expect_fail "folder in no room" "vmm/attic/x.cpp: in no room"
