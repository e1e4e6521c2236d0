#!/usr/bin/env bash
# bench/run-all.sh BUILD_DIR : the `make bench` entry. Runs every
# bench/*/run.sh with BUILD_DIR; results land in bench/out/. Every benchmark
# runs even if an earlier one fails; the exit status is non-zero if any failed.
set -uo pipefail
[ $# = 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
[ -d "$1" ] || { echo "bench: build dir '$1' does not exist" >&2; exit 2; }
BUILD="$(cd "$1" && pwd)"
HERE="$(cd "$(dirname "$0")" && pwd)"
shopt -s nullglob
scripts=("$HERE"/*/run.sh)
[ ${#scripts[@]} -gt 0 ] || { echo "bench: no bench/*/run.sh found" >&2; exit 1; }
failed=()
for s in "${scripts[@]}"; do
    name="$(basename "$(dirname "$s")")"
    echo "=== bench: $name ==="
    if bash "$s" "$BUILD"; then echo "=== bench: $name done ==="; else
        echo "=== bench: $name FAILED (status $?) ===" >&2
        failed+=("$name")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "bench: failed: ${failed[*]}" >&2
    exit 1
fi
echo "bench: all ${#scripts[@]} benchmark(s) done; results in ${BENCH_OUT:-$HERE/out}"
