#!/usr/bin/env python3
# perf_diff.py A.data B.data COMM: per-symbol sample counts of COMM in two
# `perf record` files (perf report --sort comm,dso,sym), largest A-B first.
import subprocess, sys, collections, re, os
def load(f, comm):
    out = subprocess.run(['perf','report','-i',f,'--no-children','-n','-g','none','--stdio','--sort','comm,dso,sym'], capture_output=True, text=True).stdout
    d = collections.Counter()
    for l in out.splitlines():
        m = re.match(r'\s*[\d.]+%\s+(\d+)\s+(\S+)\s+(.*)$', l)
        if m and m.group(2) == comm: d[re.sub(r'\s+',' ',m.group(3).strip())] += int(m.group(1))
    return d
a, b = load(sys.argv[1], sys.argv[3]), load(sys.argv[2], sys.argv[3])
print('total', sum(a.values()), sum(b.values()), sum(a.values())-sum(b.values()))
for k in sorted(set(a)|set(b), key=lambda k: -(a[k]-b[k]))[:int(os.environ.get('N','40'))]:
    print(f'{a[k]-b[k]:6d} {a[k]:6d} {b[k]:6d}  {k}')
