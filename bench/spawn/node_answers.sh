#!/usr/bin/env bash
# bench/spawn/node_answers.sh BUILD_DIR : system calls of a placed exec that
# its node answers itself vs forwards to the deputy (issue 14; docs/
# architecture/distributed.md, "Calls that stay on the node"), for a placed
# /bin/true and a placed cc1 (`cc -c f0.c` of the generated project), with
# SPANVM_NODE_ANSWERS=off (every call but gettid/sched_yield forwarded, as
# before), thread and all (the default). Counts, not times: they are the
# same in every run (`node_syscalls_forwarded` / `node_syscalls_local` of the
# process table, --json). Prints one line per case and the ratio of calls
# forwarded (all / off), writes bench/out/spawn_node_answers.json.
# Knobs: SPANVM [BUILD_DIR/spanvm], BENCH_OUT [bench/out].
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"
bench_init spawn/node_answers "$@"
[ "$(id -u)" = 0 ] || die "needs root (--netns)"
for t in cc python3; do command -v "$t" >/dev/null || die "$t is not installed"; done
mkdir -p "$OUT"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/spanvm-bench-answers.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
"$REPO/tests/integration/gen_c_project.sh" "$WORK/proj" 2 >/dev/null
rows=()
for mode in off thread all; do
    # round-robin: sh stays at the origin, the first true goes to host 0,
    # the second to host 1, cc to host 0 and its cc1 to host 1.
    (cd "$WORK/proj" && SPANVM_NODE_ANSWERS=$mode "$SPANVM" run --local-hosts 2 --mem 1G --netns \
        --place round-robin --place-exec round-robin --json "$WORK/$mode.json" -- \
        /bin/sh -c '/usr/bin/true; /usr/bin/true; cc -c f0.c') >/dev/null ||
        die "the placed run failed with SPANVM_NODE_ANSWERS=$mode"
    rows+=("$(python3 - "$WORK/$mode.json" "$mode" <<'PY'
import json, sys
ps = {p["program"]: p for p in json.load(open(sys.argv[1]))["processes"] if p["node"] == 1}
out = []
for prog in ("true", "cc1"):
    p = ps[prog]
    out.append('{"mode": "%s", "program": "%s", "forwarded": %d, "local": %d}'
               % (sys.argv[2], prog, p["node_syscalls_forwarded"], p["node_syscalls_local"]))
print(",".join(out))
PY
)")
done
json="$OUT/spawn_node_answers.json"
(IFS=,; echo "{\"bench\": \"spawn_node_answers\", \"results\": [${rows[*]}]}") | python3 -m json.tool >"$json"
python3 - "$json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
get = {(x["mode"], x["program"]): x for x in r}
for prog in ("true", "cc1"):
    for mode in ("off", "thread", "all"):
        x = get[(mode, prog)]
        print("placed %-4s SPANVM_NODE_ANSWERS=%-6s forwarded %4d, answered on the node %3d"
              % (prog, mode, x["forwarded"], x["local"]))
    print("placed %-4s forwarded all/off: %.2f" % (prog, get[("all", prog)]["forwarded"] / get[("off", prog)]["forwarded"]))
PY
echo "wrote $json"
