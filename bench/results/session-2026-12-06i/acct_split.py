#!/usr/bin/env python3
"""acct_split.py ACCT.json [STATS.txt]: CPU ms and minor faults of a spanvm
run's host processes by kind. With --stats output: a guest process's kind is
its program and where it ran (origin / deputy of an image placed on node k);
other host processes (spanvm's daemons and node sessions) by comm."""
import json, re, sys, collections
rows = json.load(open(sys.argv[1]))
prog = {}
if len(sys.argv) > 2:
    intable = False
    for l in open(sys.argv[2]):
        if 'process table' in l: intable = True; continue
        m = re.match(r'\s+(\d+)\s+(\d+)\s+(\d+)\s+\d+\s+\d+\s+\w+.*\s(\S+)\s*$', l)
        if intable and m:
            node = int(m.group(3))
            prog[int(m.group(1))] = (f'deputy({m.group(4)})' if node else m.group(4))
agg = collections.defaultdict(lambda: [0, 0, 0])
for r in rows:
    k = prog.get(r['pid'], 'host:' + r['comm'])
    a = agg[k]; a[0] += 1; a[1] += r['cpu_ms']; a[2] += r['minflt']
tot = sum(a[1] for a in agg.values())
for k, a in sorted(agg.items(), key=lambda x: -x[1][1]):
    print(f"{k:24s} n={a[0]:4d} cpu={a[1]:6d} ms faults={a[2]:7d}")
print(f"{'total':24s} cpu={tot} ms")
