#!/usr/bin/env python3
# sample.py OUT.json -- CMD... : runs CMD, samples its process tree every 20 ms:
# per pid CPU ticks (utime+stime), affinity; per sample the count of R-state
# processes per CPU set. Prints (stderr) per-CPU-set CPU seconds vs wall, and
# CPU use per 0.5 s. The tree: CMD's descendants plus the `spanvm node`s
# whose --origin is CMD's pid (--local-hosts double-forks them) and theirs.
# Ticks a process used after its last sample (<= 20 ms) are not counted.
import json, os, subprocess, sys, time
out = sys.argv[1]; cmd = sys.argv[3:]
HZ = os.sysconf('SC_CLK_TCK')
t0 = time.time()
p = subprocess.Popen(cmd)
procs = {}  # pid -> dict
running = []  # (t, {aff: nR})
buckets = {}
nodes = set(); notnode = set()
def stat(pid):
    try:
        s = open(f'/proc/{pid}/stat').read()
    except OSError:
        return None
    r = s.rfind(')')
    f = s[r+2:].split()
    return f[0], int(f[1]), int(f[11]) + int(f[12]), s[s.find('(')+1:r]
def aff(pid):
    try:
        for l in open(f'/proc/{pid}/status'):
            if l.startswith('Cpus_allowed_list'): return l.split()[1]
    except OSError:
        return '?'
while p.poll() is None:
    now = time.time() - t0
    tree = {p.pid}
    allp = {}
    for d in os.listdir('/proc'):
        if d.isdigit():
            st = stat(d)
            if st: allp[int(d)] = st
    for pid, st in allp.items():
        if pid in tree or pid in nodes or pid in notnode: continue
        try: cl = open(f'/proc/{pid}/cmdline').read().split('\0')
        except OSError: continue
        if '--origin' in cl and cl[cl.index('--origin') + 1].startswith(f'{p.pid}:'): nodes.add(pid)
        elif 'spanvm' not in st[3]: notnode.add(pid)  # a spanvm may still exec into a node
    tree |= nodes
    changed = True
    while changed:
        changed = False
        for pid, st in allp.items():
            if pid not in tree and st[1] in tree:
                tree.add(pid); changed = True
    nr = {}
    for pid in tree:
        st = allp.get(pid)
        if not st: continue
        e = procs.get(pid)
        if e is None:
            try: cl = open(f'/proc/{pid}/cmdline').read().replace('\0', ' ')[:160]
            except OSError: cl = ''
            e = procs[pid] = {'aff': aff(pid), 'first': now, 'comm': st[3], 'cmd': cl, 'ppid': st[1]}
        d = st[2] - e.get('ticks', st[2] if False else 0)
        e['ticks'] = st[2]; e['last'] = now
        b = int(now / 0.5); key = (e['aff'], b); buckets[key] = buckets.get(key, 0) + d
        if st[0] == 'R': nr[e['aff']] = nr.get(e['aff'], 0) + 1
    running.append((now, nr))
    time.sleep(0.02)
wall = time.time() - t0
by = {}
for e in procs.values():
    by[e['aff']] = by.get(e['aff'], 0) + e['ticks'] / HZ
busy = {}
for t, nr in running:
    for a, n in nr.items(): busy[a] = busy.get(a, 0) + (1 if n > 0 else 0)
affs = sorted({a for a, _ in buckets})
nb = int(wall / 0.5) + 1
for a in affs:
    print(f'  util/0.5s cpus {a}: ' + ' '.join(f"{min(99, int(buckets.get((a, b), 0) / HZ / 0.5 * 100)):2d}" for b in range(nb)), file=sys.stderr)
print(f'wall {wall:.2f} s, rc {p.returncode}, pids {len(procs)}, samples {len(running)}', file=sys.stderr)
for a in sorted(by):
    print(f'  cpus {a}: cpu {by[a]:.2f} s ({by[a]/wall*100:.0f}% of wall), some R in {busy.get(a,0)/max(1,len(running))*100:.0f}% of samples, pids {sum(1 for e in procs.values() if e["aff"]==a)}', file=sys.stderr)
json.dump({'wall': wall, 'procs': procs, 'running': running}, open(out, 'w'))
