#!/usr/bin/env python3
# phases_between.py DIR MARK1,MARK2,...: per thread, the CPU between the first
# of each latency-trace mark and the next (SPANVM_LATENCY_TRACE=DIR
# SPANVM_LATENCY_TRACE_CPU=1; marks added to the code for the run), medians.
import collections, glob, statistics, sys
ev=set()
for f in glob.glob(sys.argv[1]+'/trace-*.tsv'):
    for line in open(f):
        p=line.split()
        if len(p)>=4: ev.add((int(p[0]),int(p[1]),p[2],int(p[3])))
by=collections.defaultdict(list)
for e in sorted(ev): by[e[1]].append(e)
seq=sys.argv[2].split(',')
d=collections.defaultdict(list)
for tid,es in by.items():
    first={}
    for e in es: first.setdefault(e[2],e[3])
    for a,b in zip(seq,seq[1:]):
        if a in first and b in first: d[a+'->'+b].append(first[b]-first[a])
for k in [a+'->'+b for a,b in zip(seq,seq[1:])]:
    v=d[k]
    if v: print(f'{k:40s} n={len(v):4d} median {statistics.median(v)/1000:8.1f} us  mean {statistics.mean(v)/1000:8.1f}')
