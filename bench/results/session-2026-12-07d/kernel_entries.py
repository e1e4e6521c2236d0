#!/usr/bin/env python3
"""kernel_entries.py A.data B.data: the kernel samples of two `perf record -a -g`
profiles (spanvm's build, the native build) split by how the kernel was
entered (the syscall, a page fault, signal delivery or exit on the way back
to user space, a fork's return), biggest difference first."""
import sys,collections,subprocess,re
def load(f):
    out=subprocess.run(["perf","script","-i",f,"-F","comm,ip,sym,dso"],capture_output=True,text=True).stdout
    n=collections.Counter(); hdr=None; frames=[]
    def flush():
        if not hdr or hdr[0]=='swapper' or not frames: return
        if 'kernel' not in frames[0][1]: return
        ent='?'
        syms=[s for s,d in frames if 'kernel' in d]
        for s in reversed(syms):
            m=re.match(r'(__x64_sys_|__do_sys_|__se_sys_)(\w+)',s)
            if m: ent='sys_'+m.group(2); break
            if s in ('exc_page_fault','asm_exc_page_fault'): ent='pagefault'; break
            if s.startswith('ret_from_fork'): ent='ret_from_fork'; break
            if 'exit_to_user_mode' in s or s=='arch_do_signal_or_restart': ent='exit_to_user/signal'; break
            if s.startswith('asm_sysvec') or s.startswith('sysvec'): ent='irq:'+s; break
        else:
            ent='other:'+syms[-1]
        # refine do_syscall_64 w/o sys frame
        n[ent]+=1
    for line in out.splitlines():
        if line and not line[0].isspace():
            flush(); hdr=line.split(); frames=[]; continue
        if line.strip():
            p=line.split(); frames.append((p[1].split('+')[0] if len(p)>2 else '?', p[-1]))
    flush()
    return n
a=load(sys.argv[1]); b=load(sys.argv[2])
print('kernel total', sum(a.values()), sum(b.values()))
for k in sorted(set(a)|set(b), key=lambda k:-(a[k]-b[k]))[:40]: print(a[k]-b[k], a[k], b[k], k)
