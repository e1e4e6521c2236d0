#!/usr/bin/env bash
# counts.sh SPANVM OUTDIR [PLACES [WORKLOADS]]: memory-policy counters with
# first-use claims off and on (SPANVM_DSM_TUNING claims=0 / the defaults), the
# same binary, back to back, 2 hosts x 1 core; PLACES defaults to
# "round-robin auto", WORKLOADS to "pigz zstd xz sysbench". Derived from
# bench/results/2core-homes-2026-12-04/counts.sh (same inputs, same seed).
set -euo pipefail
S=$1; OUT=$2; PLACES=${3:-round-robin auto}; WORKLOADS=${4:-pigz zstd xz sysbench}; mkdir -p "$OUT"
awk -v want=$((8 * 1024 * 1024)) 'BEGIN { n = split("spanvm guest vcpu page fault futex thread kernel memory coherent the of and to in lorem ipsum", w, " "); srand(7); total = 0; while (total < want) { line = ""; k = 6 + int(rand() * 10); for (i = 0; i < k; i++) line = line (i ? " " : "") (rand() < 0.1 ? int(rand() * 100000) : w[1 + int(rand() * n)]); line = line "\n"; printf "%s", line; total += length(line) } }' > "$OUT/in8.txt"
head -c $((2 * 1024 * 1024)) "$OUT/in8.txt" > "$OUT/in2.txt"
for w in $WORKLOADS; do
  case $w in pigz) c="pigz -p 2 -c"; in=in8.txt; mib=8;; zstd) c="zstd -T2 -q -c"; in=in8.txt; mib=8;; xz) c="xz -T+2 --block-size=512KiB -c"; in=in2.txt; mib=2;; sysbench) c="sysbench cpu --threads=2 --time=0 --events=2000 run"; in=in2.txt; mib=0;; esac
  for place in $PLACES; do
    for mode in off on; do
      tun=""; [ $mode = off ] && tun="claims=0"
      SPANVM_DSM_TUNING="$tun" "$S" run --local-hosts 2 --host-cpus 1 --place $place --json "$OUT/$w.$mode.$place.json" -- $c < "$OUT/$in" > "$OUT/$w.$mode.$place.out" 2>/dev/null
      python3 - "$OUT/$w.$mode.$place.json" $w $mode $place $mib <<'PY'
import json, sys
j = json.load(open(sys.argv[1])); ms = j["machines"]; mib = int(sys.argv[5])
g = lambda k: sum(m.get(k, 0) for m in ms)
f = g("read_faults") + g("write_faults")
print("%-8s claims=%-3s place=%-11s faults=%6d faults/MiB=%6s home_1st=%5d remote_1st=%6d claim_req=%4d claims=%4d pages_claimed=%6d rehomed=%7d migrated=%4d" % (
    sys.argv[2], sys.argv[3], sys.argv[4], f, ("%.0f" % (f / mib)) if mib else "-", g("home_first_touch_faults"),
    g("remote_first_touches"), g("claim_requests"), g("claims"), g("pages_claimed"), g("pages_rehomed"), g("home_migrations")))
PY
    done
  done
done
