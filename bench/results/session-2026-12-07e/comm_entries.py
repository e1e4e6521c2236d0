#!/usr/bin/env python3
"""comm_entries.py PERF.data COMM: the samples of one command name in a `perf
record -g` profile, split into user code by DSO and kernel time by how the
kernel was entered (the syscall, a page fault, signal delivery, a fork's
return)."""
import sys,subprocess,collections,re
f,comm=sys.argv[1],sys.argv[2]
out=subprocess.run(["perf","script","-i",f,"-F","comm,ip,sym,dso"],capture_output=True,text=True).stdout
c=collections.Counter()
for blk in out.split("\n\n"):
    L=blk.strip().split("\n")
    if not L or not L[0].split() or L[0].split()[0]!=comm: continue
    fr=[(l.split()[1] if len(l.split())>2 else '?', l.split()[-1]) for l in L[1:]]
    if not fr: continue
    if 'kernel' not in fr[0][1]:
        c['user:'+fr[0][1].split('/')[-1].strip('()')]+=1; continue
    syms=[s for s,d in fr if 'kernel' in d]
    ent='?'
    for s in reversed(syms):
        m=re.match(r'(__x64_sys_|__do_sys_|__se_sys_|ksys_)(\w+)',s)
        if m: ent='sys_'+m.group(2); break
        if s in ('exc_page_fault',): 
            # which user function faulted
            ufr=[x for x,d in fr if 'kernel' not in d]
            ent='pf'; break
        if s.startswith('ret_from_fork'): ent='ret_from_fork'; break
        if 'exit_to_user_mode' in s or s=='arch_do_signal_or_restart': ent='exit_to_user/signal'; break
    c[ent]+=1
for k,v in c.most_common(25): print(v,k)
