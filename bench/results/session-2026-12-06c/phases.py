#!/usr/bin/env python3
"""phases.py DIR: the CPU each phase of a fork+exec+wait cost, from a run with
SPANVM_LATENCY_TRACE=DIR SPANVM_LATENCY_TRACE_CPU=1 (each mark's argument is
its process's CPU time in ns, all threads). Medians over the children of the
run; the parent's are per round. Trace buffers are copied into forked
children, so entries are deduplicated by (ns, tid, point, arg)."""
import collections
import glob
import statistics
import sys

ev = set()
for f in glob.glob(sys.argv[1] + '/trace-*.tsv'):
    for line in open(f):
        p = line.split()
        if len(p) >= 4:
            ev.add((int(p[0]), int(p[1]), p[2], int(p[3])))
ev = sorted(ev)
by_tid = collections.defaultdict(list)
for e in ev:
    by_tid[e[1]].append(e)
seq = ['fork.child', 'fork.ready', 'exec.begin', 'exec.loaded', 'proc.exit']
names = {
    'fork.child': "child: glibc's fork return (fork.child)",
    'fork.child->fork.ready': 'child: after_fork_child',
    'fork.ready->exec.begin': 'child: guest code until execve',
    'exec.begin->exec.loaded': 'child: execve in spanvm',
    'exec.loaded->proc.exit': 'child: the new image (ld.so, main)',
}
d = collections.defaultdict(list)
for tid, es in by_tid.items():
    first = {}
    for e in es:
        first.setdefault(e[2], e[3])
    if 'fork.child' not in first:
        continue
    d['fork.child'].append(first['fork.child'])
    for a, b in zip(seq, seq[1:]):
        if a in first and b in first:
            d[a + '->' + b].append(first[b] - first[a])
par = [e for e in ev if e[2] in ('fork.begin', 'fork.parent')]
for a, b in zip(par, par[1:]):
    if a[2] == 'fork.begin' and b[2] == 'fork.parent' and a[1] == b[1]:
        d['parent: the fork syscall'].append(b[3] - a[3])
fb = [e for e in ev if e[2] == 'fork.begin']
for a, b in zip(fb, fb[1:]):
    if a[1] == b[1]:
        d['parent: one round'].append(b[3] - a[3])
for k, v in d.items():
    print(f"{names.get(k, k):42s} n={len(v):4d} median {statistics.median(v) / 1000:7.1f} us CPU")
