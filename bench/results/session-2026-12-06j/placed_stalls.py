#!/usr/bin/env python3
"""placed_stalls.py TRACEDIR STATS: for each cc1 image placed on node 1 in a
traced 2-host build (SPANVM_LATENCY_TRACE=TRACEDIR, `--stats` output in
STATS), how long node 1 waited before the image's first forwarded call
(exec.place at the origin to the session's first node.trap), and how long
its thread waited on forwarded calls (node.trap to node.resume) in the 600 ms
after its placement: their count, total, median and longest."""
import collections, glob, re, sys
ev = set()
for f in glob.glob(sys.argv[1] + '/trace-*.tsv'):
    for line in open(f):
        p = line.split()
        if len(p) >= 4: ev.add((int(p[0]), int(p[1]), p[2], p[3]))
ev = sorted(ev)
t0 = ev[0][0]
prog = {}
for l in open(sys.argv[2]):
    m = re.match(r'\s+(\d+)\s+(\d+)\s+(\d+)\s+\d+\s+\d+\s+\w+.*\s(\S+)\s*$', l)
    if m: prog[int(m.group(1))] = m.group(4)
places = [(ns, tid) for ns, tid, pt, a in ev if pt == 'exec.place' and a == '1' and prog.get(tid) == 'cc1']
traps = [e for e in ev if e[2] in ('node.trap', 'node.resume')]
for ns, _ in places:
    w = [t for t in traps if ns <= t[0] <= ns + 600e6]
    tids = collections.Counter(t[1] for t in w if t[2] == 'node.trap')
    if not tids: continue
    nt = tids.most_common(1)[0][0]
    pairs, pend, first = [], None, None
    for t in w:
        if t[1] != nt: continue
        if t[2] == 'node.trap':
            pend = t[0]
            first = first or t[0]
        elif pend:
            pairs.append(t[0] - pend); pend = None
    pairs.sort()
    print(f"placed at {(ns - t0) / 1e6:7.0f} ms: first call +{(first - ns) / 1e6:5.1f} ms; {len(pairs)} calls waited "
          f"{sum(pairs) / 1e6:5.1f} ms (median {pairs[len(pairs) // 2] / 1e3:4.0f} us, longest {pairs[-1] / 1e6:4.1f} ms)")
