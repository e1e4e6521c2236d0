#!/usr/bin/env bash
# cluster_selfcheck.sh NAME KIND HOSTS [netns] : the self-checking guest
# program gp_NAME_KIND runs across HOSTS hosts started on this machine
# (`spanvm run --local-hosts HOSTS`, each in its own network namespace with
# `netns`), must exit 0 with "NAME: ok", and the thread table (--stats) must
# show guest threads placed on every node, and the machine table (text and
# --json) must carry every node's own traffic and fault counters, non-zero
# (each node other than the origin fetched the program's pages). GP_SCALE_DIV shrinks the
# contended loops (every lock hand-off is a page moving between hosts).
. "$(dirname "$0")/lib.sh"
[ $# -ge 3 ] || fail "usage: $0 NAME static|dynamic HOSTS [netns]"
skip_in_native_mode "multi-host runs"
it_setup
prog="$(gp "$1" "$2")"
hosts="$3"
# Threads on every node is what it checks: round-robin, no migration.
opts=(--local-hosts "$hosts" --place round-robin --stats --json tables.json)
if [ "${4:-}" = netns ]; then
    need_netns
    opts+=(--netns)
fi
export GP_SCALE_DIV="${GP_SCALE_DIV:-100}"
rc_of run_guest -t 240 "${opts[@]}" -- "$prog" >out 2>err
expect_rc "$RC" 0 "run of gp_$1_$2 across $hosts hosts" err
expect_grep "^$1: ok" out "gp_$1_$2 stdout"
# Thread table rows: tid node vcpu ...; every node id must appear.
awk '/thread table/ { on = 1; next } /hot pages/ { on = 0 } on && $1 ~ /^[0-9]+$/ { print $2 }' err | sort -u >nodes
for ((k = 0; k < hosts; k++)); do
    grep -qx "$k" nodes || fail "no guest thread ran on node $k; thread table:"$'\n'"$(show err)"
done
# Columns 11 and 12: the thread's DSM read and write faults; a thread on
# another node must have taken some (its stack and TLS at least).
remote_faults="$(awk '/thread table/ { on = 1; next } /hot pages/ { on = 0 } on && $1 ~ /^[0-9]+$/ && $2 != 0 { s += $11 + $12 } END { print s + 0 }' err)"
[ "$remote_faults" -gt 0 ] || fail "thread table shows no page faults for threads on other nodes:"$'\n'"$(show err)"
expect_grep "machine table .$hosts nodes" err "--stats machine table"
# Machine table rows: node address threads bytes_sent bytes_recv rd wr state.
awk '/machine table/ { on = 1; next } /thread table|hot pages/ { on = 0 } on && $1 ~ /^[0-9]+$/' err >machines
for ((k = 0; k < hosts; k++)); do
    # Bytes both ways on every node; faults on every node but the origin,
    # which is the home of every page and may never miss one.
    awk -v k="$k" '$1 == k && $4 ~ /^[0-9]+$/ && $4 > 0 && $5 > 0 && (k == 0 || $6 + $7 > 0) { ok = 1 }
                   END { exit !ok }' machines ||
        fail "node $k's machine table row lacks non-zero bytes and faults:"$'\n'"$(show machines)"
done
python3 - "$hosts" <<'PY' || fail "--json machine table lacks a node's counters:"$'\n'"$(show tables.json)"
import json, sys
machines = json.load(open("tables.json"))["machines"]
assert len(machines) == int(sys.argv[1])
for m in machines:
    assert m["bytes_sent"] > 0 and m["bytes_received"] > 0, m
    assert m["id"] == 0 or m["read_faults"] + m["write_faults"] > 0, m
PY
pass "$hosts hosts${4:+ ($4)}, threads on every node, node 1: $(awk '$1 == 1 { print $4 " bytes sent, " $5 " received" }' machines)"
