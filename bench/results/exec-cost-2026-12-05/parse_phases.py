import re,sys,statistics as st
phases=[('placing','T exec: placing'),('port','started a session on port'),('joined','joined'),('loaded','T exec: loaded'),('synced','T exec: synced'),('moved','T migrate:'),('channel','syscall channel of'),('end','T end: process ending'),('done','T end: shutdown done')]
res={}
for f in sys.argv[1:]:
    cur=None; lay=0
    for line in open(f):
        m=re.match(r'.*?\[(\d+\.\d+) (\d+)\] spanvm: (.*)',line)
        if not m: continue
        t=float(m.group(1))*1000; pid=m.group(2); msg=m.group(3)
        if 'T exec: placing' in msg: cur={'pid':pid,'placing':t,'lay_pre':0,'lay_post':0}; 
        if cur is None: continue
        if 'T node: Layout' in msg:
            cur['lay_post' if 'moved' in cur else 'lay_pre']+=1
        for k,s in phases[1:]:
            if s in msg and k not in cur and (pid==cur['pid']): cur[k]=t
        if 'T end: shutdown done' in msg and pid==cur['pid']:
            res.setdefault('runs',[]).append(cur); cur=None
rows=res.get('runs',[])
print(len(rows),'placed execs')
prev='placing'
for k,_ in phases[1:]:
    d=[r[k]-r[prev] for r in rows if k in r and prev in r]
    print(f'{prev:>8} -> {k:<8} median {st.median(d):6.1f} ms  min {min(d):6.1f} max {max(d):6.1f}')
    prev=k
d=[r['done']-r['placing'] for r in rows]
print(f'placing -> done total median {st.median(d):6.1f} min {min(d):6.1f} max {max(d):6.1f}')
print('Layouts before move', [r['lay_pre'] for r in rows], 'after', [r['lay_post'] for r in rows])
