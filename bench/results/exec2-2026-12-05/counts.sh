#!/usr/bin/env bash
# counts.sh SPANVM LABEL : per placed /bin/true and per placed cc1 (node 1 rows of
# --json): Layout round trips, ridden Layouts, forwarded calls, pages fetched
# and filled by the node, and the deputy's DSM messages; plus the wall time
# per placed /bin/true as bash sees it (EPOCHREALTIME around each of 16).
set -euo pipefail
SPANVM=$1
LABEL=$2
REPO="$(cd "$(dirname "$0")/../../.." && pwd)"
W="$(mktemp -d /tmp/h-exec2-counts.XXXXXX)"
trap 'rm -rf "$W"' EXIT
"$REPO/tests/integration/gen_c_project.sh" "$W/proj" 2 >/dev/null
(cd "$W/proj" && "$SPANVM" run --local-hosts 2 --mem 1G --netns --place round-robin --place-exec round-robin \
    --json "$W/c.json" -- /bin/sh -c '/usr/bin/true; /usr/bin/true; cc -c f0.c') >/dev/null
"$SPANVM" run --local-hosts 2 --mem 1G --netns --place round-robin --place-exec round-robin -- \
    /bin/bash -c 'for i in {1..32}; do a=$EPOCHREALTIME; /bin/true; b=$EPOCHREALTIME; echo "$a $b"; done' >"$W/t.txt"
python3 - "$W/c.json" "$W/t.txt" "$LABEL" <<'PY'
import json, sys, statistics
j = json.load(open(sys.argv[1]))
for p in j["processes"]:
    if p["node"] != 1: continue
    print("%s %-5s layout_round_trips %3d ridden %3d forwarded %4d local %3d node_pages_fetched %4d filled %5d" % (
        sys.argv[3], p["program"], p.get("layout_round_trips", -1), p.get("layouts_ridden", -1),
        p["node_syscalls_forwarded"], p["node_syscalls_local"], p.get("node_pages_fetched", -1), p.get("node_pages_filled", -1)))
ts = [ (float(b) - float(a)) * 1000 for a, b in (l.split() for l in open(sys.argv[2])) ]
placed = ts[1::2]  # round-robin: the first exec goes to host 0 (the origin), then host 1, ...
local = ts[0::2]
print("%s per /bin/true ms: placed median %.1f (n=%d, min %.1f), local median %.1f" % (
    sys.argv[3], statistics.median(placed[1:]), len(placed) - 1, min(placed[1:]), statistics.median(local)))
PY
