#!/usr/bin/env python3
# sources.py STRACE_K_OUTPUT [DEPTH]: counts each host mprotect/mmap/madvise
# of an `strace -f -k` trace by the spanvm functions that made it (the first
# DEPTH frames of spanvm code), most frequent first. A call with no spanvm
# frame is spanvm's own start-up (ld.so) or one strace could not unwind
# (an `<unfinished ...>` record), counted apart.
import collections
import re
import sys

depth = int(sys.argv[2]) if len(sys.argv) > 2 else 3
records = []  # [syscall name, frames]
for line in open(sys.argv[1], errors="replace"):
    if line.startswith(" > "):
        if records and records[-1] is not None:
            records[-1][1].append(line[3:].strip())
        continue
    m = re.match(r"(\d+)\s+(mprotect|mmap|madvise)\(", line)
    records.append([m.group(2), []] if m else None)
counts = collections.Counter()
for rec in records:
    if rec is None:
        continue
    name, frames = rec
    sp = [f for f in frames if "spanvm" in f.split("(")[0]]
    sp = [re.sub(r"\(.*", "", re.sub(r"^[^(]*\(", "", f, count=1)) for f in sp]
    for prefix in ("spanvm::", "process::", "memory::", "platform::native::"):
        sp = [s.replace(prefix, "") for s in sp]
    counts[name + "  " + (" < ".join(sp[:depth]) if sp else "(no spanvm frame)")] += 1
for k, v in counts.most_common():
    print(f"{v:6d}  {k}")
