#!/usr/bin/env python3
# by_guest_call.py STRACE_OUTPUT: counts each host mprotect/mmap/madvise of
# an `strace -f` trace of spanvm run with SPANVM_NATIVE_PATCH=off (so every
# guest system call is a SIGSYS that strace shows) by the guest call that
# was being handled when it was made ("-": none yet, or a helper thread),
# with mprotect's and madvise's third argument.
import collections
import re
import sys

last = {}
counts = collections.Counter()
totals = collections.Counter()
for line in open(sys.argv[1], errors="replace"):
    m = re.match(r"(\d+)\s+(.*)", line)
    if not m:
        continue
    pid, rest = m.groups()
    if "SIGSYS" in rest:
        s = re.search(r"si_syscall=__NR_(\w+)", rest)
        if s:
            last[pid] = s.group(1)
        continue
    if "resumed>" in rest:
        continue
    c = re.match(r"(mprotect|mmap|madvise|munmap)\(([^,]+), (\d+), ([A-Z_|]+)", rest)
    if not c:
        continue
    name = c.group(1)
    arg = c.group(4) if name in ("madvise", "mprotect") else ""
    counts[(last.get(pid, "-"), name, arg)] += 1
    totals[name] += 1
print("totals:", " ".join(f"{k}={v}" for k, v in sorted(totals.items())))
print(f"{'count':>6}  {'guest call':<10} {'host call':<9} argument")
for (g, n, a), v in counts.most_common():
    print(f"{v:6d}  {g:<10} {n:<9} {a}")
