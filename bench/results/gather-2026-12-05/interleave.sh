#!/usr/bin/env bash
# interleave.sh MAIN_SPANVM NEW_SPANVM OUTDIR [RUNS]: counts.sh (claims-2026-12-05)
# for pigz and xz under --place auto, alternating the two binaries run by
# run (main 1, new 1, main 2, ...), so both see the same load; every line of
# OUTDIR/counts.txt is prefixed with the binary and the run. Then moves.py
# lists each run's faults/MiB and migrations (time, direction, rule).
set -euo pipefail
MAIN=$1; NEW=$2; OUT=$3; RUNS=${4:-3}; HERE=$(cd "$(dirname "$0")" && pwd); mkdir -p "$OUT"
for i in $(seq 1 "$RUNS"); do
  for b in main new; do
    S=$MAIN; [ $b = new ] && S=$NEW
    bash "$HERE/../claims-2026-12-05/counts.sh" "$S" "$OUT/$b-$i" auto "pigz xz" | sed "s/^/$b run$i /" >> "$OUT/counts.txt"
  done
done
python3 "$HERE/moves.py" "$OUT" > "$OUT/moves.txt"
