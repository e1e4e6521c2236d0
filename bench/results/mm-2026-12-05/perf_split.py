#!/usr/bin/env python3
# perf_split.py PERF_SCRIPT... : from `perf script -F ip,sym` of a `perf record -F 4000 -g`
# run, the samples in the host mm system calls (by the callee of do_syscall_64),
# in page faults (and of those, in a TLB flush) and in arch_prctl.
import collections,sys
for fn in sys.argv[1:]:
    cur=[];c=collections.Counter();tot=[0];pf=[0];pfl=[0]
    def done():
        if not cur: return
        tot[0]+=1
        if any('asm_exc_page_fault' in f for f in cur):
            pf[0]+=1
            if any('flush_tlb_mm_range' in f for f in cur): pfl[0]+=1
        if any('do_syscall_64' in f for f in cur):
            i=max(i for i,f in enumerate(cur) if 'do_syscall_64' in f)
            n=cur[i-1].split()[-1] if i>0 else '?'
            for a,b in [('vm_mmap_pgoff','mmap'),('ksys_mmap_pgoff','mmap'),('__x64_sys_mprotect','mprotect'),('__x64_sys_madvise','madvise'),('do_madvise','madvise'),('__x64_sys_munmap','munmap'),('do_arch_prctl_64','arch_prctl')]:
                if n==a: n=b
            c[n]+=1
    for line in open(fn,errors='replace'):
        if not line.strip(): done(); cur[:]=[]; continue
        if line[0] in ' \t': cur.append(line.strip())
    done()
    mm=c['mmap']+c['mprotect']+c['madvise']+c['munmap']
    print(f"{fn}: samples {tot[0]} ({tot[0]/4000:.2f} s at 4 kHz); mm syscalls {mm} (mprotect {c['mprotect']}, mmap {c['mmap']}, madvise {c['madvise']}, munmap {c['munmap']}); page faults {pf[0]} (of which in a TLB flush {pfl[0]}); arch_prctl {c['arch_prctl']}")
