#!/usr/bin/env bash
# bench/cluster/migrate_pigz.sh BUILD_DIR : stock pigz across 2 hosts of this
# machine with threads migrating, RUNS times, each output compared byte for
# byte with native pigz's (pigz's output does not depend on its thread
# count). Two kinds of run, RUNS each:
#   auto   `--place auto` (the default): the moves the sharing policy makes;
#   cycle  SPANVM_MIGRATE_CYCLE=1 (test hook): every thread moves every
#          placement window (62.5 ms), so a move often follows a read(2).
# Prints, per kind, identical outputs out of RUNS and the migrations made,
# and writes BENCH_OUT/migrate_pigz.json. Exits 1 if any output differs.
# Knobs: SPANVM, BENCH_OUT, BENCH_PLATFORM [kvm], BENCH_RUNS [10],
# BENCH_PIGZ_MIB [24], BENCH_PIGZ_THREADS [4].
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"
bench_init migrate_pigz "$@"
PLATFORM="${BENCH_PLATFORM:-kvm}"
RUNS="${BENCH_RUNS:-10}"
MIB="${BENCH_PIGZ_MIB:-24}"
T="${BENCH_PIGZ_THREADS:-4}"
command -v pigz >/dev/null || die "pigz is not installed"
"$SPANVM" info --require "$PLATFORM" >/dev/null 2>&1 || die "the $PLATFORM platform cannot run here"
mkdir -p "$OUT"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
# Deterministic text (as tests/integration/lib.sh gen_text).
awk -v want=$((MIB * 1024 * 1024)) 'BEGIN {
    n = split("spanvm guest vcpu page fault futex thread kernel memory coherent the of and to in is that", w, " ")
    srand(7); total = 0
    while (total < want) {
        line = ""; k = 6 + int(rand() * 10)
        for (i = 0; i < k; i++) line = line (rand() < 0.1 ? int(rand() * 100000) : w[1 + int(rand() * n)]) " "
        print line; total += length(line) + 1
    }
}' >"$WORK/input.txt"
pigz -p "$T" -c <"$WORK/input.txt" >"$WORK/native.z"
echo "migrate_pigz: $RUNS runs per kind, pigz -p $T on $MIB MiB, 2 hosts, $PLATFORM platform" >&2
for kind in auto cycle; do
    for i in $(seq 1 "$RUNS"); do
        env $([ "$kind" = cycle ] && echo SPANVM_MIGRATE_CYCLE=1) "$SPANVM" run --platform "$PLATFORM" \
            --local-hosts 2 --json "$WORK/$kind.$i.json" -- pigz -p "$T" -c <"$WORK/input.txt" \
            >"$WORK/$kind.$i.z" 2>"$WORK/$kind.$i.err" || echo "run $kind $i: exit status $?" >>"$WORK/$kind.$i.err"
        if cmp -s "$WORK/$kind.$i.z" "$WORK/native.z"; then echo same; else echo differs; fi >"$WORK/$kind.$i.cmp"
    done
done
python3 - "$WORK" "$RUNS" "$PLATFORM" "$MIB" "$T" "$OUT/migrate_pigz.json" <<'PY'
import json, os, sys
work, runs, platform, mib, threads, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
res = {"platform": platform, "mib": mib, "threads": threads, "runs": runs}
bad = 0
for kind in ("auto", "cycle"):
    same, moves = 0, []
    for i in range(1, runs + 1):
        ok = open(f"{work}/{kind}.{i}.cmp").read().strip() == "same"
        same += ok
        j = f"{work}/{kind}.{i}.json"
        moves.append(len(json.load(open(j))["migrations"]) if os.path.exists(j) and os.path.getsize(j) else -1)
        if not ok:
            print(f"  {kind} run {i}: output differs; {open(f'{work}/{kind}.{i}.err').read()[-300:]}", file=sys.stderr)
    bad += runs - same
    res[kind] = {"identical": same, "migrations": moves}
    print(f"{kind:6} identical {same}/{runs}  migrations per run {moves}")
json.dump(res, open(out, "w"), indent=1)
sys.exit(1 if bad else 0)
PY
