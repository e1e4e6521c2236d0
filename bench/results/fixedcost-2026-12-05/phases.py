#!/usr/bin/env python3
"""phases.py BINARY RUNS KIND INPUT OUT: per-run traces of a 2-host run, for phd.py.

BINARY must be built with marks.patch applied (trace marks T.* at the origin,
N.* at the node; not committed: a diagnostic). KIND: true2 (`run --local-hosts 2
--host-cpus 1 -- /bin/true`) or zstdO (`... --place origin -- zstd -T2 -q -c
INPUT`, scaling.sh's line). Each run writes OUT/KIND-I/trace-PID.tsv
(SPANVM_LATENCY_TRACE) and OUT/KIND-I/t: the monotonic ms at which the shell
side started the run and saw it reaped.
"""
import os, shutil, subprocess, sys, time
binary, n, kind, zin, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
cmd = [binary, 'run', '--local-hosts', '2', '--host-cpus', '1']
cmd += ['--', '/bin/true'] if kind == 'true2' else ['--place', 'origin', '--', shutil.which('zstd'), '-T2', '-q', '-c', zin]
for i in range(n):
    d = os.path.join(out, f'{kind}-{i}')
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    t0 = time.monotonic_ns()
    subprocess.run(cmd, env=dict(os.environ, SPANVM_LATENCY_TRACE=d), stdout=subprocess.DEVNULL)
    t1 = time.monotonic_ns()
    with open(os.path.join(d, 't'), 'w') as f:
        f.write(f'{t0 / 1e6} {t1 / 1e6}\n')
