#!/usr/bin/env python3
# summary.py DIR: per workload and binary of an interleave.sh DIR, faults/MiB (sysbench: hottest-page invalidations/s) of every run, median, max and how many are over the limit
import glob, json, os, sys, statistics
MIB = {"pigz": 8, "zstd": 8, "xz": 2}
res = {}
for d in sorted(glob.glob(os.path.join(sys.argv[1], "*-*")), key=lambda p: (p.split("/")[-1].split("-")[0], int(p.split("-")[-1]))):
    b = os.path.basename(d).split("-")[0]
    for w in MIB:
        for m in ("off", "on"):
            p = f"{d}/{w}.{m}.auto.json"
            if not os.path.exists(p): continue
            j = json.load(open(p))
            f = sum(x["read_faults"] + x["write_faults"] for x in j["machines"])
            res.setdefault((w, b), []).append(round(f / MIB[w]))
    p = f"{d}/sysbench.json"
    if os.path.exists(p):
        j = json.load(open(p))
        res.setdefault(("sysbench", b), []).append(round(max(x["invalidations"] for x in j["hot_pages"]) / 5, 1))
for (w, b), v in sorted(res.items()):
    lim = {"pigz": 180, "zstd": 180, "xz": 1000, "sysbench": 100}[w]
    print(f"{w:8} {b:4} n={len(v):2} median {statistics.median(v):7.1f} max {max(v):7.1f} over {lim}: {sum(x > lim for x in v):2}  runs: {' '.join(map(str, v))}")
