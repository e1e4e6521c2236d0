#!/usr/bin/env bash
# mp_kill.sh MODE N K
# Starts a long stress run on N nodes (MODE loopback or netns) and SIGKILLs
# node K after 1.5 s. Checks: node K was killed mid-run, every survivor exits
# with 70 within 5 s of the kill, and its stderr has the line
#   spanvm: fatal: DSM: node K (ADDR:PORT) failed: ...
# with node K's address and port from the cluster file; nobody hangs.
. "$(dirname "$0")/lib.sh"

[ $# -eq 3 ] || fail "usage: mp_kill.sh loopback|netns N K"
mode="$1" n="$2" victim="$3"
mp_mode "$mode"
readonly GRACE_S=5

# The iteration count is far beyond what fits into the time limit: the run
# must end through the kill, never by finishing.
mp_launch "$n" --timeout 60 --kill-node "$victim" --kill-after-ms 1500 --kill-grace-s "$GRACE_S" -- \
    --workload stress --threads 2 --pages 16 --iterations 1000000000 --seed 7 --timeout-s 120

s="$(node_summary "$victim")"
[[ "$s" == "dsm-launch: node $victim: status 137 (signal KILL) after "*"(killed by dsm-launch at "* ]] ||
    fail "node $victim was not killed mid-run: '${s:-no summary line}'"

# Node K's endpoint as written into the cluster file.
endpoint="$(awk -v id="$victim" '
    /^id = / { cur = $3 }
    cur == id && /^address = / { gsub(/"/, "", $3); addr = $3 }
    cur == id && /^port = / { port = $3 }
    END { if (addr != "") print addr ":" port }' "$MP_RUN/cluster.toml")"
[ -n "$endpoint" ] || fail "node $victim not found in $MP_RUN/cluster.toml"

for ((k = 0; k < n; k++)); do
    [ "$k" != "$victim" ] || continue
    s="$(node_summary "$k")"
    [[ "$s" =~ ^dsm-launch:\ node\ $k:\ exit\ 70\ after\ [0-9.]+s,\ ([0-9]+)\.([0-9]{3})s\ after\ the\ kill$ ]] ||
        fail "survivor $k did not exit 70 after the kill: '${s:-no summary line}'"
    ms=$((10#${BASH_REMATCH[1]} * 1000 + 10#${BASH_REMATCH[2]}))
    [ "$ms" -le $((GRACE_S * 1000)) ] || fail "survivor $k took ${ms} ms to notice the kill"
    line="spanvm: fatal: DSM: node $victim ($endpoint) failed:"
    grep -qF "$line" "$MP_RUN/node-$k.err" ||
        fail "survivor $k has no '$line' line; stderr: $(tail -n 3 "$MP_RUN/node-$k.err")"
    if grep -q '^CHECK ok' "$MP_RUN/node-$k.out"; then fail "survivor $k printed CHECK ok after losing node $victim"; fi
    mp_log "survivor $k: exit 70 ${ms} ms after the kill"
done
[ "$MP_LAUNCH_RC" = 0 ] || fail "dsm-launch judged the kill run a failure (status $MP_LAUNCH_RC)"
pass "node $victim killed; $((n - 1)) survivors failed naming $endpoint"
