#!/usr/bin/env python3
"""cc1_timeline.py TRACEDIR STATS: when each cc1 image ran, on which node, and
each node's time without a cc1 (from exec.place to proc.exit/exec.gone)."""
import glob, re, sys
ev = set()
for f in glob.glob(sys.argv[1] + '/trace-*.tsv'):
    for line in open(f):
        p = line.split()
        if len(p) >= 4: ev.add((int(p[0]), int(p[1]), p[2], int(p[3])))
ev = sorted(ev)
t0 = ev[0][0]
prog = {}
for l in open(sys.argv[2]):
    m = re.match(r'\s+(\d+)\s+(\d+)\s+(\d+)\s+\d+\s+\d+\s+\w+.*\s(\S+)\s*$', l)
    if m: prog[int(m.group(1))] = (int(m.group(3)), m.group(4))
runs = []
place = {}
for ns, tid, pt, arg in ev:
    if pt == 'exec.place' and prog.get(tid, (0, ''))[1] == 'cc1': place[tid] = (ns, arg)
    if pt == 'exec.gone' and tid in place:
        s, node = place.pop(tid); runs.append((s, ns, node, tid))
end = ev[-1][0]
for node in (0, 1):
    r = sorted((s, e) for s, e, n, _ in runs if n == node)
    last = t0
    for s, e in r:
        idle_ms = (s - last) / 1e6
        print(f"node {node}: cc1 {(s-t0)/1e6:7.0f} -> {(e-t0)/1e6:7.0f} ms ({(e-s)/1e6:4.0f}), gap before {idle_ms:5.0f}")
        last = max(last, e)
    print(f"node {node}: {len(r)} cc1, busy {sum(e-s for s,e in r)/1e6:.0f} ms, end of last {(last-t0)/1e6:.0f}, run end {(end-t0)/1e6:.0f}")
