#!/usr/bin/env python3
"""phd.py GLOB...: per-run phase durations (median, min-max) from phases.py output."""
import glob, os, sys, statistics as st, collections
phases = [("origin start: exec, ld.so, init, CLI", None, "T.run_main"),
          ("start_local_hosts (ports, key, fork nodes)", "T.run_main", "T.hosts_started"),
          ("node: fork+exec+ld.so+init to node main", "T.hosts_started", "N.node_main"),
          ("node: platform, DsmEngine, OpenSSL warm", "N.node_main", "N.crypto_ready"),
          ("handshake: node listening -> origin connected", "N.crypto_ready", "T.engine_connected"),
          ("origin: connected -> program loaded (Layout, fills)", "T.engine_connected", "T.process_created"),
          ("origin waits for node (engine_start -> connected)", "T.engine_start", "T.engine_connected"),
          ("program (guest spawned -> exit_group)", "T.guest_spawned", "T.end_process"),
          ("end: Shutdown -> Stats/Bye in", "T.shutdown_begin", "T.byes_in"),
          ("origin _exit -> reaped by the shell", "T.exit", "REAPED")]
for pat in sys.argv[1:]:
    per = collections.defaultdict(list)
    dirs = sorted(glob.glob(pat))
    for d in dirs:
        ev = {}
        for f in glob.glob(d + '/trace-*.tsv'):
            for l in open(f):
                ns, tid, pt, arg = l.rstrip('\n').split('\t')
                if pt not in ev: ev[pt] = int(ns) / 1e6
        if os.path.exists(d + '/t'):
            t0, t1 = map(float, open(d + '/t').read().split()); ev['START'] = t0; ev['REAPED'] = t1
        for name, a, b in phases:
            a = a or 'START'
            if a in ev and b in ev: per[name].append(ev[b] - ev[a])
    print(f"{pat}: {len(dirs)} runs, per-run phase ms: median (min-max)")
    for name, a, b in phases:
        v = per.get(name)
        if v: print(f"  {name:52s} {st.median(v):7.1f} ({min(v):.1f}-{max(v):.1f})")
