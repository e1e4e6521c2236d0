#!/usr/bin/env bash
# interleave.sh OLD NEW IN8 ROUNDS: pigz -p 2 on 8 MiB (IN8, the claims-2026-12-05
# counts.sh input), 2 hosts x 1 core, default placement (auto), OLD and NEW
# alternating; prints faults/MiB over both nodes and each run's moves (time,
# from, to), and checks each output decompresses to the input.
set -euo pipefail
OLD=$1 NEW=$2 IN=$3 ROUNDS=${4:-6}
W=$(mktemp -d)
for r in $(seq "$ROUNDS"); do
  for who in old new; do
    bin=$OLD; [ $who = new ] && bin=$NEW
    "$bin" run --local-hosts 2 --host-cpus 1 --json "$W/j.json" -- pigz -p 2 -c <"$IN" >"$W/o.gz" 2>/dev/null
    gzip -dc "$W/o.gz" | cmp -s - "$IN" || echo "round $r $who: OUTPUT DIFFERS"
    python3 - "$W/j.json" "$r" "$who" <<'PY'
import json, sys
j = json.load(open(sys.argv[1])); ms = j["machines"]
f = sum(m.get("read_faults", 0) + m.get("write_faults", 0) for m in ms)
print("round %s %-3s pigz faults/MiB %4.0f moves %s" % (sys.argv[2], sys.argv[3], f / 8,
      [(round(x["at_s"], 2), x["from"], x["to"]) for x in j["migrations"]]))
PY
  done
done
rm -rf "$W"
