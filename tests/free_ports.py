#!/usr/bin/env python3
"""free_ports.py [N]: prints N (default 1) distinct free TCP ports on
127.0.0.1, each checked with a bind, all below the kernel's ephemeral range
(net.ipv4.ip_local_port_range). A port that bind(0) picks lies inside that
range and is released before the node that is to listen on it binds it;
any connect() on the machine may take it meanwhile as its source port, and
the node fails with "Address already in use" (mp.auth: 2 of 8 runs under
load). No connect() takes a port below the range."""
import random
import socket
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1
lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
got = []
while len(got) < n:
    p = random.randrange(max(1024, lo - 12000), lo)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    if p not in got:
        got.append(p)
print(*got)
