#!/usr/bin/env python3
"""summary.py OUTDIR: medians of run.sh's times.jsonl and the origin runs' counts."""
import glob, json, os, statistics, sys

out = sys.argv[1]
rows = [json.loads(l) for l in open(os.path.join(out, "times.jsonl"))]
def med(w, v, k):
    xs = [r[k] for r in rows if r["workload"] == w and r["variant"] == v]
    return statistics.median(xs) if xs else float("nan"), len(xs)
def counts(w, v):
    c = {"reclaimed": [], "zeroed": [], "home_1st": [], "faults": [], "bytes_to_node1": []}
    for f in glob.glob(os.path.join(out, f"{w}.{v}.*.json")):
        j = json.load(open(f))
        m0 = j["machines"][0]
        d = j.get("discards", {})
        c["reclaimed"].append(d.get("pages_reclaimed", float("nan")))
        c["zeroed"].append(d.get("pages_zeroed", float("nan")))
        c["home_1st"].append(m0["home_first_touch_faults"])
        c["faults"].append(m0["read_faults"] + m0["write_faults"])
        c["bytes_to_node1"].append(m0["bytes_sent"])
    return {k: statistics.median(v) if v else None for k, v in c.items()}
print("workload | one host old/new ms | origin old / new / new populate=0 ms | 1host/origin old -> new (populate=0) | CPU s origin old -> new")
summary = {}
for w in ("zstd", "pigz", "xz", "true"):
    oo, n = med(w, "old_one", "ms"); no, _ = med(w, "new_one", "ms")
    og, _ = med(w, "old_origin", "ms"); ng, _ = med(w, "new_origin", "ms"); np_, _ = med(w, "new_nopop_origin", "ms")
    oc, _ = med(w, "old_origin", "cpu_s"); nc, _ = med(w, "new_origin", "cpu_s")
    oc1, _ = med(w, "old_one", "cpu_s"); nc1, _ = med(w, "new_one", "cpu_s")
    summary[w] = {"runs": n, "old_one_ms": oo, "new_one_ms": no, "old_origin_ms": og, "new_origin_ms": ng,
                  "new_nopop_origin_ms": np_, "tax_old": round(oo / og, 3), "tax_new": round(no / ng, 3),
                  "tax_new_nopop": round(no / np_, 3), "cpu_old_origin_s": oc, "cpu_new_origin_s": nc,
                  "cpu_old_one_s": oc1, "cpu_new_one_s": nc1,
                  "counts": {v: counts(w, v) for v in ("old_origin", "new_origin", "new_nopop_origin")}}
    print(f"{w} | {oo}/{no} | {og} / {ng} / {np_} | {oo/og:.3f} -> {no/ng:.3f} ({no/np_:.3f}) | {oc} -> {nc} (one host {oc1}/{nc1}) | n={n}")
    for v in ("old_origin", "new_origin", "new_nopop_origin"):
        print(f"  {v}: {summary[w]['counts'][v]}")
json.dump(summary, open(os.path.join(out, "summary.json"), "w"), indent=1)
