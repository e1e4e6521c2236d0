#!/usr/bin/env python3
# moves.py DIR: for every DIR/{main,new}-N/*.json of interleave.sh, the run's
# faults per MiB (both nodes) and its migrations: time, from->to, and the
# rule ("strong": one window of >= 32 shared faults; "weak": two windows in
# a row, while young on the new binary).
import glob, json, os, sys
for d in sorted(glob.glob(os.path.join(sys.argv[1], "*-*"))):
    if not os.path.isdir(d):
        continue
    for p in sorted(glob.glob(d + "/*.json")):
        j = json.load(open(p))
        w = os.path.basename(p).split(".")[0]
        mib = 8 if w == "pigz" else 2
        f = sum(m.get("read_faults", 0) + m.get("write_faults", 0) for m in j["machines"])
        mv = ["%.2fs %d->%d %s" % (m["at_s"], m["from"], m["to"], "strong" if "strong" in m["reason"] else "weak")
              for m in j["migrations"]]
        print("%-8s %-18s faults/MiB %5.0f  moves: %s" % (os.path.basename(d), os.path.basename(p), f / mib,
                                                        "; ".join(mv) or "-"))
