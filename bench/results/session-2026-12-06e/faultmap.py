#!/usr/bin/env python3
"""faultmap.py PERF_DATA TRACE_DIR: a forked process's page faults by the
mapping they hit (its file and protection, or "guest" below 0x600200000),
per forked process (those with a fork.child trace mark). Record with
  SPANVM_LATENCY_TRACE=TRACE_DIR perf record -k CLOCK_MONOTONIC \
      -e page-faults -c 1 -d -o PERF_DATA -- spanvm run -- PROGRAM
The mappings come from perf's own mmap records (--show-mmap-events);
session-2026-12-06d/phasefaults.py splits the same faults by phase."""
import subprocess,re,glob,collections,sys
data, trdir = sys.argv[1], sys.argv[2]
marks=collections.defaultdict(dict)
for f in glob.glob(trdir+'/trace-*.tsv'):
    for line in open(f):
        p=line.split()
        if len(p)>=3: marks[int(p[1])].setdefault(p[2],int(p[0]))
out=subprocess.run(["perf","script","-i",data,"--show-mmap-events","-F","pid,addr","-G"],capture_output=True,text=True).stdout
maps=[]  # (start,end,prot,name)
rx=re.compile(r'PERF_RECORD_MMAP2 (\d+)/\d+: \[0x([0-9a-f]+)\(0x([0-9a-f]+)\) @ (\S+) .*\]: (\S+) (.*)$')
c=collections.Counter(); kids=set(); tot=0
for l in out.splitlines():
    m=rx.search(l)
    if m:
        s=int(m[2],16); maps.append((s,s+int(m[3],16),m[5],m[6].split('/')[-1])); continue
    p=l.split()
    if len(p)!=2: continue
    try: pid=int(p[0]); addr=int(p[1],16)
    except: continue
    if 'fork.child' not in marks.get(pid,{}): continue
    kids.add(pid); tot+=1
    name='other'
    for s,e,prot,nm in reversed(maps):
        if s<=addr<e: name=f"{nm} {prot}"; break
    if addr < 0x600200000: name='guest'
    c[name]+=1
n=len(kids); print("children",n,"faults per child",round(tot/n,1))
for k,v in c.most_common(15): print(f"{v/n:7.1f} {k}")
