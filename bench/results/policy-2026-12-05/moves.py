#!/usr/bin/env python3
# moves.py DIR: for every DIR/{main,new}-N/*.json of interleave.sh, the run's
# faults per MiB (both nodes; sysbench: its hottest page's invalidations)
# and its migrations: time, from->to, the rule ("strong": a thread shares
# >= 32 faults in one window; "cheap": one window while a thread has
# created little where it is; "weak": two windows in a row, on main's
# binary while young) and, on the new binary, the mover's cost (resident
# pages) against the saving.
import glob, json, os, re, sys
MIB = {"pigz": 8, "zstd": 8, "xz": 2}
for d in sorted(glob.glob(os.path.join(sys.argv[1], "*-*"))):
    if not os.path.isdir(d):
        continue
    for p in sorted(glob.glob(d + "/*.json")):
        j = json.load(open(p))
        w = os.path.basename(p).split(".")[0]
        f = sum(m.get("read_faults", 0) + m.get("write_faults", 0) for m in j["machines"])
        fig = "faults/MiB %5.0f" % (f / MIB[w]) if w in MIB else \
            "hot inval  %5d" % max((x["invalidations"] for x in j["hot_pages"]), default=0)
        mv = []
        for m in j["migrations"]:
            rule = re.search(r"(strong|cheap|weak|while young)", m["reason"])
            cost = re.search(r"cost (\d+) resident pages <= saving (\d+)", m["reason"])
            mv.append("%.2fs %d->%d %s%s" % (m["at_s"], m["from"], m["to"],
                                             "weak" if rule and rule.group(1) == "while young" else (rule.group(1) if rule else "?"),
                                             " (cost %s <= %s)" % cost.groups() if cost else ""))
        print("%-8s %-18s %s  moves: %s" % (os.path.basename(d), os.path.basename(p), fig, "; ".join(mv) or "-"))
