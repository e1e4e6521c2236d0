#!/usr/bin/env bash
# cluster_placement.sh share|independent|migrate KIND : `--place auto` (the
# default) across 2 hosts on this machine, checked in the --json report.
#   share        gp_share_one_page: four workers write one page; they must
#                end on one node, moved there by migrations whose reason
#                says what they share.
#   independent  gp_independent_workers: four workers share nothing; they
#                must stay spread over both nodes, with no migration.
#   migrate      gp_migrate_state with SPANVM_MIGRATE_CYCLE=1 (every thread
#                moves each placement window): registers, AVX, MXCSR, x87,
#                TLS, FS/GS, a pending signal and futex waits survive the
#                moves (the program checks them), and threads did move.
#   migrate_output  gp_migrate_syscall_output, the same hook: a read's data is
#                in guest memory when a thread moved right after the call
#                runs on, and no late store lands after it.
#   migrate_vector  gp_migrate_vector_copy, the same hook: a thread moved
#                between vector loads and stores keeps xmm/ymm.
#   migrate_passthrough  gp_passthrough_kick, the same hook: threads in tight
#                loops of getppid/getuid/getpgrp/sched_yield move mid-loop,
#                every signal still arrives, and a worker did move. Cluster
#                runs do not patch syscall sites today (departures.md), so
#                every call here traps; the case guards the pass-through
#                fast path (passthrough_syscalls.hpp) for when they do.
. "$(dirname "$0")/lib.sh"
[ $# -ge 2 ] || fail "usage: $0 share|independent|migrate|migrate_output|migrate_vector|migrate_passthrough static|dynamic"
skip_in_native_mode "multi-host runs"
it_setup
case "$1" in
share) prog="$(gp share_one_page "$2")"; export SHARE_SECONDS=6 ;;
independent) prog="$(gp independent_workers "$2")"; export INDEP_SECONDS=3 ;;
migrate) prog="$(gp migrate_state "$2")"; export MIGRATE_SECONDS=3 SPANVM_MIGRATE_CYCLE=1 ;;
migrate_output) prog="$(gp migrate_syscall_output "$2")"; export MIGRATE_SECONDS=3 SPANVM_MIGRATE_CYCLE=1 ;;
migrate_vector) prog="$(gp migrate_vector_copy "$2")"; export MIGRATE_SECONDS=3 SPANVM_MIGRATE_CYCLE=1 ;;
migrate_passthrough) prog="$(gp passthrough_kick "$2")"; export PASSTHROUGH_SIGNALS=2000 SPANVM_MIGRATE_CYCLE=1 ;;
*) fail "unknown case $1" ;;
esac
rc_of run_guest -t 200 --local-hosts 2 --stats --json run.json -- "$prog" >out 2>err
expect_rc "$RC" 0 "run of $(basename "$prog") across 2 hosts" err
expect_grep ": ok" out "$(basename "$prog") stdout"
summary="$(python3 - "$1" run.json <<'PY'
import json, sys
case, path = sys.argv[1], sys.argv[2]
r = json.load(open(path))
assert r["placement"] == "auto", r.get("placement")
threads, moves = r["threads"], r["migrations"]
pid = min(t["tid"] for t in threads)
workers = [t for t in threads if t["tid"] != pid]
assert sum(t["migrations"] for t in threads) == len(moves), (threads, moves)
for m in moves:
    assert m["reason"] and m["from"] != m["to"] and m["cost_us"] > 0, m
nodes = sorted({t["node"] for t in workers})
if case == "share":
    assert len(nodes) == 1, f"workers end on nodes {nodes}; migrations: {moves}"
    assert moves and all("shares pages" in m["reason"] for m in moves), moves
    print(f"workers on node {nodes[0]} after {len(moves)} migrations; first: {moves[0]['reason']}")
elif case == "independent":
    assert nodes == [0, 1], f"workers on nodes {nodes}, want both; migrations: {moves}"
    assert not moves, moves
    print("workers stay on nodes 0 and 1, no migration")
elif case == "migrate_passthrough":
    n = sum(t["migrations"] for t in workers)
    assert n >= 1, f"no worker moved: {threads}"
    print(f"workers moved {n} times in their pass-through loops; {len(moves)} migrations in all")
else:
    moved = [t for t in workers if t["migrations"] >= 2]
    assert len(moved) >= 4, f"only {len(moved)} threads moved twice or more: {threads}"
    costs = sorted(m["cost_us"] for m in moves)
    print(f"{len(moves)} migrations, cost p50 {costs[len(costs)//2]:.0f} us")
PY
)" || fail "--json says:"$'\n'"$summary"$'\n'"$(show err)"
expect_grep "moves" err "--stats thread table's moves column"
pass "$summary"
