#!/usr/bin/env python3
"""phases_by_parent.py TRACEDIR STATS: median CPU of each phase of a fork+exec+wait
(SPANVM_LATENCY_TRACE_CPU=1 trace), per parent->child program pair, and of each
parent's fork syscall (as session-2026-12-06c/phases.py, split by program)."""
import collections, glob, statistics, sys, re
ev=set()
for f in glob.glob(sys.argv[1]+'/trace-*.tsv'):
    for line in open(f):
        p=line.split()
        if len(p)>=4: ev.add((int(p[0]), int(p[1]), p[2], int(p[3])))
ev=sorted(ev)
prog={}; ppid={}
for l in open(sys.argv[2]):
    m = re.match(r'\s+(\d+)\s+(\d+)\s+(\d+)\s+\d+\s+\d+\s+\w+.*\s(\S+)\s*$', l)
    if m: prog[int(m.group(1))]=m.group(4); ppid[int(m.group(1))]=int(m.group(2))
by=collections.defaultdict(list)
for e in ev: by[e[1]].append(e)
seq=['fork.child','fork.ready','exec.begin','exec.loaded','proc.exit']
d=collections.defaultdict(list)
for tid,es in by.items():
    first={}
    for e in es: first.setdefault(e[2], e[3])
    if 'fork.child' not in first: continue
    par=prog.get(ppid.get(tid),'?'); me=prog.get(tid,'?')
    key=f"{par}->{me}"
    d[(key,'fork.child')].append(first['fork.child'])
    for a,b in zip(seq,seq[1:]):
        if a in first and b in first: d[(key,a+'->'+b)].append(first[b]-first[a])
# parent fork syscall CPU per parent program
for tid,es in by.items():
    for a,b in zip(es,es[1:]):
        if a[2]=='fork.begin' and b[2]=='fork.parent': d[(prog.get(tid,'?')+' parent','fork')].append(b[3]-a[3])
for k,v in sorted(d.items()):
    if len(v)>=3: print(f"{k[0]:14s} {k[1]:26s} n={len(v):3d} median {statistics.median(v)/1000:8.1f} us")
