#!/usr/bin/env bash
# interleave.sh MAIN_SPANVM NEW_SPANVM OUTDIR [ROUNDS]: as gather-2026-12-05's,
# for pigz, zstd and xz (claims-2026-12-05/counts.sh under --place auto: two
# samples a workload a run, claims off and on) and `sysbench cpu
# --threads=2 --time=5` (its hottest page's invalidations per second:
# the largest `invalidations` in --json hot_pages / 5, as
# bench/cluster/place_auto.sh), alternating the two binaries run by run
# (main 1, new 1, main 2, ...) so both see the same load. Every line of
# OUTDIR/counts.txt and OUTDIR/sysbench.txt is prefixed with the binary and
# the run; then moves.py lists each run's faults/MiB and migrations.
set -euo pipefail
MAIN=$1; NEW=$2; OUT=$3; ROUNDS=${4:-6}; HERE=$(cd "$(dirname "$0")" && pwd); mkdir -p "$OUT"
for i in $(seq 1 "$ROUNDS"); do
  for b in main new; do
    S=$MAIN; [ $b = new ] && S=$NEW
    bash "$HERE/../claims-2026-12-05/counts.sh" "$S" "$OUT/$b-$i" auto "pigz zstd xz" | sed "s/^/$b run$i /" >> "$OUT/counts.txt"
    "$S" run --local-hosts 2 --host-cpus 1 --json "$OUT/$b-$i/sysbench.json" -- sysbench cpu --threads=2 --time=5 run > "$OUT/$b-$i/sysbench.out" 2>/dev/null
    python3 - "$OUT/$b-$i/sysbench.json" "$b run$i" >> "$OUT/sysbench.txt" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
hot = max((p["invalidations"] for p in j["hot_pages"]), default=0)
print("%s sysbench hottest-page invalidations %4d = %6.1f/s migrations %d" % (sys.argv[2], hot, hot / 5, len(j["migrations"])))
PY
  done
done
python3 "$HERE/moves.py" "$OUT" > "$OUT/moves.txt"
