#!/usr/bin/env bash
# bench/cluster/place_auto.sh BUILD_DIR : what `--place auto` buys (issue 13,
# item 4), measured back to back in one run on H hosts x C cores of this
# machine (`--local-hosts H --host-cpus C`), against one host with C cores:
#   sysbench   `sysbench cpu --threads=H*C --time=SECS`: events/s, and the
#              hottest page's invalidations per second (largest
#              `invalidations` in --json hot_pages / SECS), under
#              --place round-robin (before) and auto (after);
#   one_page   tests/guest-programs share_one_page (four threads write one
#              page for SECS): steps done, one host against 2 hosts under
#              round-robin and auto ("do no harm": auto >= one host);
#   migrations the moves auto made and their median cost (--json).
# Prints the table and writes BENCH_OUT/place_auto.json.
# Knobs: SPANVM, BENCH_OUT, BENCH_HOSTS [2], BENCH_CORES [nproc / H],
# BENCH_PLACE_SECS [10].
set -euo pipefail
. "$(dirname "$0")/../lib/common.sh"
bench_init place_auto "$@"
H="${BENCH_HOSTS:-2}"
C="${BENCH_CORES:-$(($(nproc) / H))}"
[ "$C" -ge 1 ] || C=1
SECS="${BENCH_PLACE_SECS:-10}"
GP="$BUILD/tests/guest-programs/gp_share_one_page_static"
[ -x "$GP" ] || die "$GP missing: build the guest_programs target"
command -v sysbench >/dev/null || die "sysbench is not installed"
mkdir -p "$OUT"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
T=$((H * C))

run_sb() { # NAME SPANVM-OPTIONS...
    local name=$1
    shift
    "$SPANVM" run "$@" --json "$WORK/$name.json" -- sysbench cpu --threads="$T" --time="$SECS" run >"$WORK/$name.out" 2>"$WORK/$name.err" ||
        die "sysbench $name failed: $(tail -3 "$WORK/$name.err")"
}
run_gp() { # NAME SPANVM-OPTIONS...
    local name=$1
    shift
    SHARE_SECONDS="$SECS" "$SPANVM" run "$@" --json "$WORK/$name.json" -- "$GP" >"$WORK/$name.out" 2>"$WORK/$name.err" ||
        die "share_one_page $name failed: $(tail -3 "$WORK/$name.err")"
}
echo "place_auto: $H hosts x $C cores vs one host with $C cores, $SECS s per run" >&2
run_sb sb_one --host-cpus "$C"
run_sb sb_rr --local-hosts "$H" --host-cpus "$C" --place round-robin
run_sb sb_auto --local-hosts "$H" --host-cpus "$C" --place auto
run_gp gp_one --host-cpus "$C"
run_gp gp_rr --local-hosts "$H" --host-cpus "$C" --place round-robin
run_gp gp_auto --local-hosts "$H" --host-cpus "$C" --place auto
python3 - "$WORK" "$SECS" "$H" "$C" "$OUT/place_auto.json" <<'PY'
import json, re, sys
work, secs, h, c, out = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
def eps(name):
    m = re.search(r"events per second:\s*([0-9.]+)", open(f"{work}/{name}.out").read())
    return float(m.group(1))
def steps(name):
    return int(re.search(r"share_one_page: ([0-9]+) steps", open(f"{work}/{name}.err").read()).group(1))
def rep(name):
    return json.load(open(f"{work}/{name}.json"))
def hot_inv(name):
    p = rep(name).get("hot_pages", [])
    return max((x["invalidations"] for x in p), default=0) / secs
def moves(name):
    m = rep(name).get("migrations", [])
    costs = sorted(x["cost_us"] for x in m)
    return {"count": len(m), "median_cost_us": costs[len(costs) // 2] if costs else None,
            "nodes_at_end": sorted({t["node"] for t in rep(name)["threads"]}),
            "first_reason": m[0]["reason"] if m else None}
r = {"hosts": h, "cores_per_host": c, "seconds": secs,
     "sysbench": {"one_host_eps": eps("sb_one"), "round_robin_eps": eps("sb_rr"), "auto_eps": eps("sb_auto"),
                  "round_robin_hot_inval_per_s": hot_inv("sb_rr"), "auto_hot_inval_per_s": hot_inv("sb_auto"),
                  "auto_migrations": moves("sb_auto")},
     "one_page": {"one_host_steps": steps("gp_one"), "round_robin_steps": steps("gp_rr"),
                  "auto_steps": steps("gp_auto"), "round_robin_hot_inval_per_s": hot_inv("gp_rr"),
                  "auto_hot_inval_per_s": hot_inv("gp_auto"), "auto_migrations": moves("gp_auto")}}
s, g = r["sysbench"], r["one_page"]
s["auto_vs_round_robin"] = s["auto_eps"] / s["round_robin_eps"]
s["auto_vs_one_host"] = s["auto_eps"] / s["one_host_eps"]
g["auto_vs_one_host"] = g["auto_steps"] / g["one_host_steps"]
g["round_robin_vs_one_host"] = g["round_robin_steps"] / g["one_host_steps"]
json.dump(r, open(out, "w"), indent=2)
print(f"sysbench cpu events/s: one host {s['one_host_eps']:.0f}, {h} hosts round-robin {s['round_robin_eps']:.0f}, "
      f"auto {s['auto_eps']:.0f} (auto/rr {s['auto_vs_round_robin']:.2f}, auto/one host {s['auto_vs_one_host']:.2f})")
print(f"sysbench hottest page invalidations/s: round-robin {s['round_robin_hot_inval_per_s']:.1f}, "
      f"auto {s['auto_hot_inval_per_s']:.1f}; auto made {s['auto_migrations']['count']} migrations")
print(f"one page, steps: one host {g['one_host_steps']}, round-robin {g['round_robin_steps']} "
      f"({g['round_robin_vs_one_host']:.2f}x), auto {g['auto_steps']} ({g['auto_vs_one_host']:.2f}x); "
      f"hottest page inval/s rr {g['round_robin_hot_inval_per_s']:.1f}, auto {g['auto_hot_inval_per_s']:.1f}")
print(f"migration cost, median: {s['auto_migrations']['median_cost_us']} us (sysbench), "
      f"{g['auto_migrations']['median_cost_us']} us (one page)")
PY
