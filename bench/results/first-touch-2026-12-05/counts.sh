#!/usr/bin/env bash
# counts.sh OLD NEW OUTDIR [ROUNDS [WORKLOADS]]: first-touch counters of two
# binaries, interleaved (OLD, NEW, OLD, ...), 2 hosts x 1 core, --place auto,
# the inputs of claims-2026-12-05/counts.sh (same generator, same seed).
# Prints per run faults, home_1st, remote_1st, shared_1st (requests for
# never-used pages of a chunk two nodes use), claims. These counts do not
# depend on the machine's speed, but zstd is bimodal (3 or 7 claims).
set -euo pipefail
OLD=$1; NEW=$2; OUT=$3; ROUNDS=${4:-4}; WORKLOADS=${5:-zstd pigz xz}; mkdir -p "$OUT"
awk -v want=$((8 * 1024 * 1024)) 'BEGIN { n = split("spanvm guest vcpu page fault futex thread kernel memory coherent the of and to in lorem ipsum", w, " "); srand(7); total = 0; while (total < want) { line = ""; k = 6 + int(rand() * 10); for (i = 0; i < k; i++) line = line (i ? " " : "") (rand() < 0.1 ? int(rand() * 100000) : w[1 + int(rand() * n)]); line = line "\n"; printf "%s", line; total += length(line) } }' > "$OUT/in8.txt"
head -c $((2 * 1024 * 1024)) "$OUT/in8.txt" > "$OUT/in2.txt"
for r in $(seq 1 "$ROUNDS"); do
  for w in $WORKLOADS; do
    case $w in pigz) c="pigz -p 2 -c"; in=in8.txt;; zstd) c="zstd -T2 -q -c"; in=in8.txt;; xz) c="xz -T+2 --block-size=512KiB -c"; in=in2.txt;; esac
    for which in old new; do
      bin=$OLD; [ $which = new ] && bin=$NEW
      j="$OUT/$w.$which.$r.json"
      if ! "$bin" run --local-hosts 2 --host-cpus 1 --place auto --json "$j" -- $c < "$OUT/$in" > "$OUT/$w.$which.$r.out" 2> "$OUT/$w.$which.$r.err"; then
        echo "$w $which run $r failed: $(tail -1 "$OUT/$w.$which.$r.err")"; continue
      fi
      python3 - "$j" $w $which <<'PY'
import json, sys
ms = json.load(open(sys.argv[1]))["machines"]
g = lambda k: sum(m.get(k, 0) for m in ms)
print("%-5s %-3s faults=%5d home_1st=%4d remote_1st=%3d shared_1st=%3d claim_req=%3d claims=%2d pages_claimed=%5d" % (
    sys.argv[2], sys.argv[3], g("read_faults") + g("write_faults"), g("home_first_touch_faults"),
    g("remote_first_touches"), g("shared_chunk_first_touches"), g("claim_requests"), g("claims"), g("pages_claimed")))
PY
    done
  done
done
