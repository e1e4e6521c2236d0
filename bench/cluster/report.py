#!/usr/bin/env python3
"""bench/cluster/report.py WORK OUT_JSON: turns the raw measurements that
bench/cluster/run.sh left in WORK into OUT_JSON (bench/out/cluster.json), the
gnuplot data files WORK/{t1,fig9b,fig9c,stock}.dat and the summary on stdout.

WORK holds: params.json {fs_iters, stock_mib, cpu_iters}, rtt.json [seconds
per round trip, after the warm-up], {a,b,c}.json (bench_fsops output: native,
one host, two hosts), times.jsonl (one {"key", "ns"} per timed run) and
<tool>.run.json (`spanvm run --json` of each 2-host compressor run).
Statistics come from bench/lib/stats.py. Standard library only.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import stats  # noqa: E402

OPS = ["open", "close", "mkdir", "rmdir", "symlink", "flock"]
SIZES = ["4096", "8192", "16384", "32768", "65536"]
TOOLS = ["pigz", "xz", "zstd"]


def load(work, name):
    with open(os.path.join(work, name)) as f:
        return json.load(f)


def main(work, out_path):
    params = load(work, "params.json")
    rtt_us = round(stats.median(load(work, "rtt.json")) * 1e6, 1)
    a, b, c = (load(work, n) for n in ("a.json", "b.json", "c.json"))
    times = {}
    with open(os.path.join(work, "times.jsonl")) as f:
        for line in f:
            t = json.loads(line)
            times.setdefault(t["key"], []).append(t["ns"])

    def secs(key):  # the median of the runs of one key, in seconds
        return round(stats.median(times[key]) / 1e9, 4)

    table1 = {}
    for op in OPS:
        na, nb, nc = a["op"][op], b["op"][op], c["op"][op]
        table1[op] = {"native_ns": na, "one_host_ns": nb, "forwarded_ns": nc,
                      "b_over_a": round(nb / na, 3),
                      "c_minus_b_us": round((nc - nb) / 1000, 1),
                      "c_minus_b_over_rtt": round((nc - nb) / 1000 / rtt_us, 2),
                      "target_c_minus_b_over_rtt": "<= 1.5"}
    figure9 = {sz: {"one_host_ns": b["read"][sz], "forwarded_ns": c["read"][sz]} for sz in SIZES}
    # Cost per extra 4 KiB page: least squares of us against pages.
    slope, _ = stats.linear_fit([int(sz) / 4096 for sz in SIZES], [c["read"][sz] / 1000 for sz in SIZES])
    figure9["forwarded_us_per_extra_page"] = round(slope, 1)
    figure9["paper_us_per_page_1gbe"] = 400

    cpu_native, cpu_cluster = secs("cpu_native"), secs("cpu_cluster")
    scaling = {"native_2threads_s": cpu_native, "two_hosts_s": cpu_cluster,
               "ratio": round(cpu_native / cpu_cluster, 3), "target": ">= 0.9",
               "iterations": params["cpu_iters"],
               "startup_1host_s": secs("start_1"), "startup_2hosts_s": secs("start_2")}

    stock = {}
    mib = params["stock_mib"]
    for tool in TOOLS:
        machines = load(work, tool + ".run.json").get("machines", [])
        # All traffic of a 2-host run crosses the origin: what it sent and
        # received. Faults: summed over every node that sent its counters.
        origin = next((m for m in machines if m.get("state") == "origin"), {})
        moved = origin.get("bytes_sent", 0) + origin.get("bytes_received", 0)
        faults = sum(m.get("read_faults", 0) + m.get("write_faults", 0) for m in machines)
        native, cluster = secs(tool + "_native"), secs(tool + "_cluster")
        stock[tool] = {"native_s": native, "two_hosts_s": cluster, "ratio": round(native / cluster, 3),
                       "target": ">= 0.7", "input_mib": mib,
                       "faults_per_mib_all_nodes": round(faults / mib, 1),
                       "bytes_moved_per_mib": round(moved / mib)}

    report = {"rtt_us": rtt_us, "fs_iters": params["fs_iters"], "table1": table1, "figure9": figure9,
              "scaling_cpu_2hosts": scaling, "stock_2hosts": stock}
    with open(out_path, "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")

    def write(name, rows):
        with open(os.path.join(work, name), "w") as f:
            f.writelines(" ".join(str(x) for x in r) + "\n" for r in rows)

    write("t1.dat", [(op, "%.2f" % table1[op]["c_minus_b_over_rtt"]) for op in OPS])
    write("fig9c.dat", [(int(sz) / 1024, c["read"][sz] / 1000) for sz in SIZES])
    write("fig9b.dat", [(int(sz) / 1024, b["read"][sz] / 1000) for sz in SIZES])
    write("stock.dat", [(t, "%.3f" % stock[t]["ratio"]) for t in TOOLS])

    print("%-8s %10s %10s %12s %7s %10s" % ("op", "A ns", "B ns", "C ns", "B/A", "(C-B)/RTT"))
    for op in OPS:
        r = table1[op]
        print("%-8s %10s %10s %12s %7.3f %10.2f" % (op, r["native_ns"], r["one_host_ns"], r["forwarded_ns"],
                                                     r["one_host_ns"] / r["native_ns"],
                                                     (r["forwarded_ns"] - r["one_host_ns"]) / 1000 / rtt_us))
    print("figure 9: forwarded read cost per extra 4 KiB page: %.1f us (paper: ~400 us on 1 GbE)"
          % figure9["forwarded_us_per_extra_page"])
    print("scaling: cpu_bound 2 hosts / native 2 threads = %.3f (target >= 0.9); start-up /bin/true 2 hosts %.4f s"
          " vs 1 host %.4f s" % (scaling["ratio"], scaling["startup_2hosts_s"], scaling["startup_1host_s"]))
    for t in TOOLS:
        s = stock[t]
        print("stock %s: native/2-hosts = %.3f (target >= 0.7), faults/MiB %.1f, bytes/MiB %d"
              % (t, s["ratio"], s["faults_per_mib_all_nodes"], s["bytes_moved_per_mib"]))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
