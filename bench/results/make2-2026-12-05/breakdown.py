import json, sys
# breakdown.py SAMPLES.json RUN.json : sample.py's per-pid CPU joined with --json's
# process table: CPU seconds and summed life per (CPU set, program@node);
# a node-1 program's row at CPU 0 is its deputy. Other rows: the sessions
# and the node daemon (host 1), make.
d = json.load(open(sys.argv[1])); r = json.load(open(sys.argv[2]))
prog = {str(p['pid']): (p['program'], p['node']) for p in r['processes']}
agg = {}
for pid, e in d['procs'].items():
    if pid in prog:
        k = (e['aff'], f"{prog[pid][0]}@node{prog[pid][1]}" + (' (deputy)' if prog[pid][1] else ''))
    else:
        k = (e['aff'], 'other:' + ('session' if '--cluster-spec' in e['cmd'] and '--daemon' in e['cmd'] else 'node-daemon' if '--origin' in e['cmd'] else e['comm']))
    a = agg.setdefault(k, [0, 0, 0.0]); a[0] += 1; a[1] += e['ticks']; a[2] += e['last'] - e['first']
for k in sorted(agg): print(f'{k[0]:5} {k[1]:28} n={agg[k][0]:3} cpu={agg[k][1]/100:6.2f}s  life={agg[k][2]:6.1f}s')
