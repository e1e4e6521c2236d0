#!/usr/bin/env python3
"""phasefaults.py TRACE_DIR PERF_DATA [TOP]: each forked process's page faults
by phase of its spawn (A: the fork until fork.child, B: after_fork_child,
C: guest code until execve, D: spanvm's execve, E: the new image, F: its
exit), split into guest RAM and spanvm's own memory, and the TOP (50) code
sites of spanvm's faults and of C and D. Per forked process (means).

Record with both clocks the same:
  SPANVM_LATENCY_TRACE=TRACE_DIR perf record -k CLOCK_MONOTONIC \
      -e page-faults -c 1 -d -o PERF_DATA -- spanvm run -- PROGRAM
(the trace marks are CLOCK_MONOTONIC ns; a fault belongs to the phase whose
first mark in that pid precedes it). Guest RAM is below 0x600200000 on the
native platform (the stub areas included)."""
import sys, subprocess, collections, re, glob
trdir, data = sys.argv[1], sys.argv[2]
marks = collections.defaultdict(dict)
for f in glob.glob(trdir + '/trace-*.tsv'):
    for line in open(f):
        p = line.split()
        if len(p) >= 3:
            marks[int(p[1])].setdefault(p[2], int(p[0]))
# pid, time, data address, code address, symbol, dso (-G: no call chains)
out = subprocess.run(["perf","script","-i",data,"-F","pid,time,addr,ip,sym,dso","-G","--ns"],capture_output=True,text=True).stdout
rx = re.compile(r'^\s*(\d+)\s+([\d.]+):\s+([0-9a-f]+)\s+(.*?)\((\S*)\)\s+([0-9a-f]+)\s+(.*?)\s*\((\S*)\)\s*$')
seq = ['fork.child','fork.ready','exec.begin','exec.loaded','proc.exit']
names = ['A fork->fork.child','B after_fork_child','C guest->execve','D execve','E image','F exit']
ph = collections.Counter(); sy = collections.Counter(); nproc=set()
for l in out.splitlines():
    m = rx.match(l)
    if not m: continue
    pid=int(m[1]); t=int(float(m[2])*1e9); addr=int(m[3],16)
    mk = marks.get(pid)
    if not mk or 'fork.child' not in mk: continue
    nproc.add(pid)
    i = 0
    while i < len(seq) and seq[i] in mk and t >= mk[seq[i]]: i += 1
    phase = names[i] if i < len(names) else '?'
    region = 'guest' if addr < 0x600200000 else 'spanvm'
    ph[(phase, region)] += 1
    if region == 'spanvm' or phase in ('C guest->execve','D execve'):
        sy[(phase, region, m[5].split('/')[-1], m[7][:45])] += 1
n = len(nproc)
print("children", n)
for k in sorted(ph): print(f"{ph[k]/n:6.1f}", k)
for k,v in sy.most_common(int(sys.argv[3]) if len(sys.argv)>3 else 50): print(f"{v/n:6.2f}", k)
