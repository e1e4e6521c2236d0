#!/usr/bin/env python3
"""acct_run.py OUT.json -- CMD...: run CMD with BSD process accounting on and
write every host process that ended during it (pid, ppid, comm, CPU ms, minor
faults, elapsed ms) to OUT.json."""
import ctypes, json, os, struct, subprocess, sys, tempfile
libc = ctypes.CDLL(None, use_errno=True)
out, cmd = sys.argv[1], sys.argv[3:] if sys.argv[2] == '--' else sys.argv[2:]
f = tempfile.NamedTemporaryFile(delete=False, dir='/tmp'); f.close()
if libc.acct(f.name.encode()) != 0:
    sys.exit(f"acct: errno {ctypes.get_errno()}")
try:
    rc = subprocess.call(cmd)
    import time; time.sleep(1.0)  # sessions a node daemon reaps after the run
finally:
    libc.acct(None)
def comp(v):  # comp_t: 13-bit mantissa, 3-bit base-8 exponent
    return (v & 0x1fff) << (3 * ((v >> 13) & 7))
rows = []
data = open(f.name, 'rb').read(); os.unlink(f.name)
for off in range(0, len(data) - 63, 64):
    rec = data[off:off + 64]
    flag, ver, tty, exitcode, uid, gid, pid, ppid, btime, etime = struct.unpack_from('<BBHIIIIIIf', rec, 0)
    ut, st, mem, io, rw, minf, majf, sw = struct.unpack_from('<8H', rec, 32)
    comm = rec[48:64].split(b'\0')[0].decode(errors='replace')
    rows.append(dict(pid=pid, ppid=ppid, comm=comm, cpu_ms=(comp(ut) + comp(st)) * 10, minflt=comp(minf), btime=btime))
json.dump(rows, open(out, 'w'))
sys.exit(rc)
