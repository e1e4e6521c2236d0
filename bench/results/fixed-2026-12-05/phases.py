#!/usr/bin/env python3
# phases.py LOG...: the phases of each placed exec in logs of an instrumented
# spanvm (instrument.py); node lines are counted for the one deputy open at
# the time (run execs one after another). Medians in ms.
import re,sys,statistics as st
# deputy phases in order (pid == deputy's)
P=[('placing','exec: placing'),('asking','deputy: asking'),('port','deputy: port'),('engine','attach: engine made'),
   ('listener','attach: listener'),('connected','attach: engine started'),('joined','deputy: joined'),
   ('main','load: main image'),('interp','load: interp'),('loaded','exec: loaded'),('synced','exec: synced'),
   ('moved','migrate:'),('channel','deputy: syscall channel of'),('end','end: process ending'),('done','end: shutdown done')]
rows=[]
for f in sys.argv[1:]:
    open_={}  # deputy pid -> row
    allr=[]
    for line in open(f):
        m=re.match(r'\[(\d+\.\d+) (\d+)\] spanvm: T (.*)',line)
        if not m: continue
        t=float(m.group(1))*1000; pid=m.group(2); msg=m.group(3)
        if msg.startswith('exec: placing'):
            r={'pid':pid,'placing':t,'traps':0,'lrt':0,'ridden':0,'nlay':0}; open_[pid]=r; allr.append(r); continue
        if pid in open_:
            r=open_[pid]
            for k,s in P[1:]:
                if msg.startswith(s) and k not in r: r[k]=t
            if msg.startswith('deputy: Layout round trip'): r['lrt']+=1
            if msg.startswith('end: shutdown done'): del open_[pid]; rows.append(r)
        else:
            # node lines: attribute to the only open deputy if exactly one
            if len(open_)==1:
                r=next(iter(open_.values()))
                if msg.startswith('node: Trap'): r['traps']+=1
                if msg.startswith('node: ridden'): r['ridden']+=1
                if msg.startswith('node: Layout'): r['nlay']+=1
                if msg.startswith('node: channel connected'): r['nchan']=t
                if msg.startswith('node: Trap') and 'ftrap' not in r: r['ftrap']=t
                if msg.startswith('daemon: SessionStart'): r['dstart']=t
                if msg.startswith('daemon: SessionReady'): r['dready']=t
                if msg.startswith('node: joined'): r['njoined']=t
print(len(rows),'placed execs')
prev='placing'
def show(a,b,label=None):
    d=[r[b]-r[a] for r in rows if a in r and b in r]
    if d: print(f'{label or a+" -> "+b:<40} median {st.median(d):6.1f} ms  min {min(d):6.1f} max {max(d):6.1f}  n={len(d)}')
for k,_ in P[1:]:
    show(prev,k); prev=k
show('placing','done','TOTAL placing -> done')
show('asking','dstart','  asking -> daemon SessionStart')
show('dstart','dready','  daemon start -> ready')
show('dready','port','  daemon ready -> deputy port')
show('moved','nchan','  moved -> node channel connected')
show('nchan','ftrap','  node channel -> first Trap')
show('ftrap','end','  first Trap -> exit_group at deputy')
for k in ('traps','lrt','ridden','nlay'):
    v=[r[k] for r in rows]; print(k, 'median', st.median(v), 'min', min(v), 'max', max(v))
