#!/usr/bin/env python3
"""bench/cluster/scaling.py WORK OUT_JSON: turns the raw measurements that
bench/cluster/scaling.sh left in WORK into OUT_JSON (bench/out/scaling.json),
the gnuplot data file WORK/scaling.dat and the summary table on stdout.

WORK holds: params.json {hosts, cores_per_host, runs, cpu_iters,
sysbench_events, workloads, input_mib {workload: MiB, 0 without input}},
times.jsonl (one {"workload", "mode", "run", "ns"} per timed run; modes
native, wide, one_host, hosts, origin) and <workload>.<hosts|origin>.<run>.json
(`spanvm run --json`). Times are the median over the runs (bench/lib/stats.py);
the DSM counters are summed per run (machine rows), then their median.
Standard library only.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import stats  # noqa: E402

MODES = ["native", "wide", "one_host", "hosts", "origin"]


def load(path):
    with open(path) as f:
        return json.load(f)


def dsm(run_json, wall_s, mib):
    """The DSM counters of one `spanvm run --json`: summed over the machine
    rows, per MiB of input where there is input, and the hottest page."""
    machines = run_json.get("machines", [])
    reads = sum(m.get("read_faults", 0) for m in machines)
    writes = sum(m.get("write_faults", 0) for m in machines)
    sent = sum(m.get("bytes_sent", 0) for m in machines)
    fetches = sum(m.get("remote_fetches", 0) for m in machines)
    hot = max(run_json.get("hot_pages", []), key=lambda p: p.get("invalidations", 0), default=None)
    hot_inv = hot.get("invalidations", 0) if hot else 0
    # Memory policy counters (dynamic homes; 0 from a spanvm that lacks them).
    policy = {k: sum(m.get(k, 0) for m in machines)
              for k in ("home_first_touch_faults", "remote_first_touches", "home_migrations", "pages_rehomed")}
    return {
        "read_faults": reads, "write_faults": writes, "faults": reads + writes,
        "remote_fetches": fetches, "bytes_sent": sent, **policy,
        "faults_per_mib": round((reads + writes) / mib, 1) if mib else None,
        "bytes_per_mib": round(sent / mib) if mib else None,
        "hottest_page": hex(hot["guest_address"]) if hot else None,
        "hottest_page_invalidations": hot_inv,
        "hottest_page_invalidations_per_s": round(hot_inv / wall_s, 1) if wall_s else None,
    }


def median_dict(rows):
    """Per key, the median of the numbers (None stays None; text from the first)."""
    out = {}
    for k, v in rows[0].items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out[k] = stats.median([r[k] for r in rows])
        else:
            out[k] = v
    return out


def main(work, out_path):
    params = load(os.path.join(work, "params.json"))
    h, c = params["hosts"], params["cores_per_host"]
    times = {}
    with open(os.path.join(work, "times.jsonl")) as f:
        for line in f:
            t = json.loads(line)
            times.setdefault((t["workload"], t["mode"]), []).append(t)

    report = {"hosts": h, "cores_per_host": c, "native_threads": c, "spanvm_threads": h * c,
              "runs_per_cell": params["runs"], "workloads": {}}
    for w in params["workloads"]:
        mib = params["input_mib"].get(w, 0)
        secs = {m: round(stats.median([t["ns"] for t in times[(w, m)]]) / 1e9, 4) for m in MODES}
        row = {"native_s": secs["native"], "native_wide_s": secs["wide"], "one_host_s": secs["one_host"],
               "hosts_s": secs["hosts"], "origin_s": secs["origin"],
               "speedup": round(secs["native"] / secs["hosts"], 3),
               "machine_ceiling": round(secs["native"] / secs["wide"], 3),
               "one_host_vs_native": round(secs["native"] / secs["one_host"], 3),
               "dsm_tax_one_host_over_origin": round(secs["one_host"] / secs["origin"], 3),
               "input_mib": mib}
        if w == "sysbench":
            ev = params["sysbench_events"]
            row["events"] = ev
            for m in MODES:
                row[m + "_events_per_s"] = round(ev / secs[m], 1)
        elif w == "cpu_bound":
            row["iterations"] = params["cpu_iters"]
        for m in ("hosts", "origin"):
            per_run = [dsm(load(os.path.join(work, "%s.%s.%d.json" % (w, m, t["run"]))), t["ns"] / 1e9, mib)
                       for t in times[(w, m)]]
            row["dsm_" + m] = median_dict(per_run)
        report["workloads"][w] = row

    report["targets_2_hosts"] = {"cpu_bound": ">= 1.9", "xz": ">= 1.7", "pigz": ">= 1.3", "sysbench": ">= 1.0",
                                 "zstd": ">= 0.9", "dsm_tax_one_host_over_origin": ">= 0.95",
                                 "note": "issue 13; for >= 8 cores per host with cheap write-protect"}
    with open(out_path, "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    with open(os.path.join(work, "scaling.dat"), "w") as f:
        for w, r in report["workloads"].items():
            f.write("%s %.3f %.3f %.3f\n" % (w, r["speedup"], r["dsm_tax_one_host_over_origin"], r["machine_ceiling"]))

    print("%d hosts x %d cores vs native on %d cores (native %d threads, spanvm %d threads); speedup = native / hosts,"
          " ceiling = native / native with %d threads on %d CPUs, 1host/orig = the DSM tax (one host / hosts --place origin); faults, bytes and hot-page invalidations"
          " of the hosts run (per run where there is no input)" % (h, c, c, c, h * c, h * c, h * c))
    hdr = ("workload", "native s", "1 host s", "hosts s", "origin s", "speedup", "ceiling", "1host/orig",
           "faults/MiB", "bytes/MiB", "hot inv/s")
    print("%-10s %9s %9s %9s %9s %8s %8s %10s %11s %12s %10s" % hdr)
    for w, r in report["workloads"].items():
        d = r["dsm_hosts"]
        fm = d["faults_per_mib"] if d["faults_per_mib"] is not None else "%d/run" % d["faults"]
        bm = d["bytes_per_mib"] if d["bytes_per_mib"] is not None else "%d/run" % d["bytes_sent"]
        print("%-10s %9.3f %9.3f %9.3f %9.3f %8.3f %8.3f %10.3f %11s %12s %10s" % (
            w, r["native_s"], r["one_host_s"], r["hosts_s"], r["origin_s"], r["speedup"], r["machine_ceiling"],
            r["dsm_tax_one_host_over_origin"], fm, bm, d["hottest_page_invalidations_per_s"]))
        if w == "sysbench":
            print("%-10s events/s: native %.1f, native wide %.1f, one host %.1f, %d hosts %.1f, origin %.1f" % (
                "", r["native_events_per_s"], r["wide_events_per_s"], r["one_host_events_per_s"], h, r["hosts_events_per_s"],
                r["origin_events_per_s"]))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
