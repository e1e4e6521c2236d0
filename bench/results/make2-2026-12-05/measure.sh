#!/usr/bin/env bash
# measure.sh ROUNDS OUTDIR CASE... : interleaved sampled builds of the
# 16-file, 60-function project (gen_c_project.sh 16 60); each CASE is
# native | BINARY:POLICY (`spanvm run --local-hosts 2 --host-cpus 1
# --place-exec POLICY -- make -j2`; native: `taskset -c 0 make -j1`).
# Per run: sample.py's per-CPU-set CPU seconds against wall, and for spanvm
# breakdown.py's per-program rows (--json processes joined with the samples).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
rounds=$1 out=$2
shift 2
mkdir -p "$out"
proj="$(mktemp -d /tmp/make2-proj.XXXXXX)"
trap 'rm -rf "$proj"' EXIT
"$here/../../../tests/integration/gen_c_project.sh" "$proj" 16 60 >/dev/null
for r in $(seq "$rounds"); do
    for c in "$@"; do
        make -s -C "$proj" clean
        tag="r$r-$(basename "${c%%:*}")-${c##*:}"
        echo "== round $r $c $(date +%T) load $(cut -d' ' -f1-3 /proc/loadavg)"
        if [ "$c" = native ]; then
            python3 "$here/sample.py" "$out/$tag.json" -- taskset -c 0 make -s -C "$proj" -j1 2>&1 >/dev/null | grep -v util
        else
            python3 "$here/sample.py" "$out/$tag.json" -- "${c%%:*}" run --local-hosts 2 --host-cpus 1 \
                --place-exec "${c##*:}" --json "$out/$tag-run.json" -- make -s -C "$proj" -j2 2>&1 >/dev/null | grep -v util
            python3 "$here/breakdown.py" "$out/$tag.json" "$out/$tag-run.json"
        fi
    done
done
