#!/usr/bin/env bash
# bench/spawn/arg_capture.sh BUILD_DIR : a placed image's forwarded calls
# whose guest memory is on its stack (issue 14; vmm/cluster/arg_rules.hpp):
# per call, `call_loop CALL N` placed on host 1 of `spanvm run --local-hosts
# 2 --host-cpus C --place-exec round-robin`, for lseek (no guest memory: the
# round trip alone), fstat (struct stat written), uname (struct utsname
# written) and sigprocmask (a mask read, the old one written). Prints each
# call's microseconds per call and its ratio to lseek's (1.0: the call
# costs its round trip, nothing more), and the pages host 1 fetched per call
# (`node_pages_fetched` in --json, less a run with no loop: a count, the
# same on any machine). Then the pages host 1 fetched while a placed
# /usr/bin/true, cc1, cc and as (`cc -c f0.c` of the generated project,
# twice: cc1 on host 1, then cc and as) ran, and the calls they forwarded
# (these also count the image's own pages, and a forking image's vary from
# run to run).
# With BENCH_BASELINE (another spanvm binary, e.g. main's), every run is
# made with both, interleaved, and the lines give after/before ratios.
# Times are medians of BENCH_REPEAT runs. Writes
# bench/out/spawn_arg_capture.json and, with gnuplot, spawn_arg_capture.png.
# Knobs: SPANVM [BUILD_DIR/spanvm], BENCH_BASELINE [none], BENCH_REPEAT [3],
# BENCH_CALLS [2000], BENCH_HOST_CPUS [1], BENCH_OUT [bench/out],
# BENCH_PLOT [1].
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"
bench_init spawn/arg_capture "$@"
bench_need cc python3
N="${BENCH_CALLS:-2000}"
C="${BENCH_HOST_CPUS:-1}"
[ "$(nproc)" -ge $((2 * C)) ] || die "needs $((2 * C)) CPUs (2 hosts x $C)"
PLOT="${BENCH_PLOT:-1}"
command -v gnuplot >/dev/null || PLOT=0
BINS=(after)
declare -A BIN=([after]="$SPANVM")
if [ -n "${BENCH_BASELINE:-}" ]; then
    [ -x "$BENCH_BASELINE" ] || die "BENCH_BASELINE '$BENCH_BASELINE' is not executable"
    BINS=(before after)
    BIN[before]="$BENCH_BASELINE"
fi
mkdir -p "$OUT"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/spanvm-bench-args.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
cc -O2 -o "$WORK/call_loop" "$HERE/call_loop.c"
"$REPO/tests/integration/gen_c_project.sh" "$WORK/proj" 2 >/dev/null
CALLS=(none lseek fstat uname sigprocmask)
ROWS="$WORK/rows.jsonl"
: >"$ROWS"

# placed BIN TAG SH-COMMAND: runs SH-COMMAND with BIN, appends one row per
# process on host 1 (program, pages fetched, calls forwarded) and the
# loop's own line (its us/call) to $ROWS, tagged TAG.
placed() {
    local bin=$1 tag=$2 cmd=$3
    (cd "$WORK/proj" && "${BIN[$bin]}" run --local-hosts 2 --host-cpus "$C" --place-exec round-robin \
        --json "$WORK/run.json" -- /bin/sh -c "$cmd") >"$WORK/run.out" 2>"$WORK/run.err" ||
        die "$bin: '$cmd' failed: $(tail -3 "$WORK/run.err")"
    python3 - "$WORK/run.json" "$WORK/run.out" "$bin" "$tag" >>"$ROWS" <<'PY'
import json, sys
run, out, binary, tag = sys.argv[1:]
loop = [json.loads(l) for l in open(out) if l.startswith("{")]
for p in json.load(open(run))["processes"]:
    if p["node"] != 1:
        continue
    row = {"binary": binary, "tag": tag, "program": p["program"],
           "node_pages_fetched": p["node_pages_fetched"], "forwarded": p["node_syscalls_forwarded"]}
    if p["program"] == "call_loop" and loop:
        row["us_per_call"] = loop[0]["us_per_call"]
    print(json.dumps(row))
PY
}

# round-robin: the shell stays at the origin, true goes to host 0, the
# next exec to host 1 (and cc to host 0, its cc1 to host 1; or cc to host
# 1, cc1 to host 0 and as to host 1).
for r in $(seq "$REPEAT"); do
    for call in "${CALLS[@]}"; do
        for b in "${BINS[@]}"; do placed "$b" "$call" "/usr/bin/true; $WORK/call_loop $call $N"; done
    done
    for b in "${BINS[@]}"; do
        placed "$b" cc "/usr/bin/true; /usr/bin/true; cc -c f0.c"
        placed "$b" cc "/usr/bin/true; cc -c f0.c"
    done
    echo "round $r of $REPEAT done" >&2
done

json="$OUT/spawn_arg_capture.json"
python3 - "$ROWS" "$json" "$N" "$C" "$REPEAT" "${BINS[@]}" <<'PY'
import json, statistics, sys
rows_f, out, n, c, repeat = sys.argv[1:6]
bins = sys.argv[6:]
n = int(n)
rows = [json.loads(l) for l in open(rows_f)]
def pick(b, tag, prog):
    return [r for r in rows if r["binary"] == b and r["tag"] == tag and r["program"] == prog]
res = {"bench": "spawn_arg_capture", "calls_per_run": n, "host_cpus": int(c), "repeat": int(repeat),
       "binaries": bins, "calls": [], "images": []}
med = {}
for b in bins:
    base = statistics.median(r["node_pages_fetched"] for r in pick(b, "none", "call_loop"))
    for call in ("lseek", "fstat", "uname", "sigprocmask"):
        rs = pick(b, call, "call_loop")
        us = [r["us_per_call"] for r in rs]
        pages = statistics.median(r["node_pages_fetched"] for r in rs)
        med[(b, call)] = statistics.median(us)
        res["calls"].append({"binary": b, "call": call, "us_per_call": med[(b, call)], "us_runs": us,
                             "node_pages_fetched": pages, "pages_per_call": round((pages - base) / n, 3) + 0.0,
                             "forwarded": statistics.median(r["forwarded"] for r in rs)})
    for prog in ("true", "cc1", "cc", "as"):
        rs = pick(b, "cc", prog)
        res["images"].append({"binary": b, "program": prog,
                              "node_pages_fetched": statistics.median(r["node_pages_fetched"] for r in rs),
                              "forwarded": statistics.median(r["forwarded"] for r in rs)})
for x in res["calls"]:
    x["vs_lseek"] = round(x["us_per_call"] / med[(x["binary"], "lseek")], 3)
json.dump(res, open(out, "w"), indent=2)
for x in res["calls"]:
    print("%-6s placed %-11s %8.1f us/call, %5.2fx lseek's, %5.2f pages fetched per call"
          % (x["binary"], x["call"], x["us_per_call"], x["vs_lseek"], x["pages_per_call"]))
for x in res["images"]:
    print("%-6s placed %-11s %5d pages fetched by its node, %4d calls forwarded"
          % (x["binary"], x["program"], x["node_pages_fetched"], x["forwarded"]))
if len(bins) == 2:
    b0, b1 = bins
    for call in ("lseek", "fstat", "uname", "sigprocmask"):
        print("%-11s us/call %s/%s: %.2fx" % (call, b1, b0, med[(b1, call)] / med[(b0, call)]))
    img = {(x["binary"], x["program"]): x for x in res["images"]}
    for prog in ("true", "cc1", "cc", "as"):
        a, z = img[(b0, prog)]["node_pages_fetched"], img[(b1, prog)]["node_pages_fetched"]
        print("%-11s pages fetched by its node %s/%s: %.2fx" % (prog, b1, b0, z / a if a else float("nan")))
PY
echo "wrote $json"
if [ "$PLOT" = 1 ]; then
    dat="$WORK/calls.dat"
    python3 - "$json" >"$dat" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
bins = r["binaries"]
print("call " + " ".join(bins))
for call in ("lseek", "fstat", "uname", "sigprocmask"):
    v = {x["binary"]: x["us_per_call"] for x in r["calls"] if x["call"] == call}
    print(call + " " + " ".join("%.2f" % v[b] for b in bins))
PY
    cols=$(( ${#BINS[@]} + 1 ))
    gnuplot <<EOG
set terminal png size 700,400
set output "$OUT/spawn_arg_capture.png"
set title "a placed image's forwarded call, us per call (2 hosts x $C core)"
set style data histograms
set style fill solid 0.6
set key autotitle columnhead
set yrange [0:*]
plot for [i=2:$cols] "$dat" using i:xtic(1)
EOG
    echo "wrote $OUT/spawn_arg_capture.png"
fi
