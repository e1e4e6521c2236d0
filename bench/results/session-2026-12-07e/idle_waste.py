#!/usr/bin/env python3
"""idle_waste.py SCHED.data [--raw]: from `perf sched record -a` of a build, the
idle time of each CPU, and how much of it overlapped a task that was
runnable but waiting on the other CPU (sch delay in `perf sched timehist`),
by task (threads of a process as NAME[thr] unless --raw)."""
import sys,subprocess,collections,re
f=sys.argv[1]
out=subprocess.run(["perf","sched","timehist","-i",f],capture_output=True,text=True).stdout.splitlines()[3:]
idle=[]; waits=[]
for l in out:
    p=l.split()
    if len(p)<6: continue
    try: T=float(p[0]); wt=float(p[3]); d=float(p[4])/1000; run=float(p[5])/1000
    except: continue
    cpu=p[1]; task=p[2]
    if task=='<idle>': idle.append((T-run,T,cpu))
    elif d>0: waits.append((T-run-d,T-run,cpu,task if "--raw" in sys.argv else re.sub(r"\[\d+\]$","",re.sub(r"\[\d+/\d+\]$","[thr]",task))))
waits.sort()
tot=collections.Counter()
import bisect
starts=[w[0] for w in waits]
for a,b,cpu in idle:
    i=bisect.bisect_left(starts,a-0.01)
    for w in waits[max(0,i-50):]:
        if w[0]>b: break
        ov=min(b,w[1])-max(a,w[0])
        if ov>0 and w[2]!=cpu: tot[w[3]]+=ov*1000
print(f"idle {sum(b-a for a,b,c in idle)*1000:.1f} ms; wasted (a task waited on the other CPU) {sum(tot.values()):.1f} ms")
for k,v in tot.most_common(8): print(f"  {v:.1f} {k}")
