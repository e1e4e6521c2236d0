#!/usr/bin/env bash
# mp_auth.sh : only holders of the cluster key join (net/handshake.hpp).
#   keys      `spanvm keygen` writes mode 0600 and never overwrites; a key file
#             readable by group/others is refused with one line, status 2.
#   wrong     nodes 0 and 1 with different keys: both exit 70, each with ONE
#             stderr line saying "wrong cluster key"; neither prints CHECK.
#   forged    a peer speaking today's pre-authentication handshake
#             ({cluster, from, to, version} with no key proof), as dialer to
#             node 1 and as acceptor to node 0: node 1 logs one "rejected
#             connection ... unauthenticated handshake" line and reads nothing
#             else from it; node 0 exits 70 with one line naming node 1.
. "$(dirname "$0")/lib.sh"
# Ports below the ephemeral range (tests/free_ports.py says why).
FREE_PORTS="$(cd "$(dirname "$0")/.." && pwd)/free_ports.py"
free_ports() { python3 "$FREE_PORTS" 2; }
cd "$MP_TMP"
lines() { grep -c . "$1" || true; }

# ---- keys
"$SPANVM" keygen k1 || fail "keygen k1"
"$SPANVM" keygen k2 || fail "keygen k2"
[ "$(stat -c %a k1)" = 600 ] || fail "keygen wrote mode $(stat -c %a k1), want 600"
cmp -s k1 k2 && fail "two keygen runs wrote the same key"
rc=0; "$SPANVM" keygen k1 2>err || rc=$?
[ "$rc" = 2 ] && [ "$(lines err)" = 1 ] || fail "keygen over an existing file: status $rc, stderr: $(cat err)"
cp k1 open.key && chmod 644 open.key
read -r p0 p1 < <(free_ports)
spec="0=127.0.0.1:$p0,1=127.0.0.1:$p1"
rc=0; "$SPANVM" dsm-node --cluster "$spec" --node 0 --workload counter --key-file open.key 2>err || rc=$?
[ "$rc" = 2 ] && [ "$(lines err)" = 1 ] && grep -q "accessible by group or others" err ||
    fail "key file mode 0644: status $rc, stderr: $(cat err)"

# ---- wrong key
"$SPANVM" dsm-node --cluster "$spec" --node 1 --workload counter --key-file k2 >o1 2>e1 &
n1=$!
rc0=0; timeout 30 "$SPANVM" dsm-node --cluster "$spec" --node 0 --workload counter --key-file k1 >o0 2>e0 || rc0=$?
rc1=0; wait "$n1" || rc1=$?
for k in 0 1; do
    eval "rc=\$rc$k"
    [ "$rc" = 70 ] || fail "wrong key: node $k exit $rc, want 70; stderr: $(cat e$k)"
    [ "$(lines e$k)" = 1 ] || fail "wrong key: node $k printed $(lines e$k) stderr lines, want 1: $(cat e$k)"
    grep -q "wrong cluster key" e$k || fail "wrong key: node $k does not say so: $(cat e$k)"
    [ ! -s o$k ] || fail "wrong key: node $k printed on stdout: $(cat o$k)"
done
mp_log "wrong key: $(cat e0)"

# ---- forged handshake in the old frame format
cat >forge.py <<'PY'
import socket, struct, sys, time
MAGIC, HANDSHAKE = 0x4D565053, 0xFF00  # FRAME_MAGIC, HANDSHAKE_TYPE
def frame(t, payload):
    return struct.pack("<IHHHHQI", MAGIC, 1, t, 0, 0, 0, len(payload)) + payload
def legacy(name, frm, to):
    n = name.encode()
    return frame(HANDSHAKE, struct.pack("<H", len(n)) + n + struct.pack("<HHI", frm, to, 1))
role, port = sys.argv[1], int(sys.argv[2])
if role == "dial":  # to node 1, claiming to be node 0, then a DSM-looking frame
    # Node 1 may take seconds to listen on a loaded machine.
    s = None
    for _ in range(600):
        try:
            s = socket.create_connection(("127.0.0.1", port)); break
        except OSError: time.sleep(0.05)
    if s is None: sys.exit("node 1 never listened")
    got = b""
    try:  # node 1 may close (even reset) before the second frame is sent
        s.sendall(legacy("local", 0, 1) + frame(0x0100, b"\0" * 16))
        s.settimeout(20)
        while True:
            d = s.recv(4096)
            if not d: break
            got += d
    except OSError: pass
    print("closed", len(got))
else:  # accept node 0's dial and answer with an old handshake
    l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("127.0.0.1", port)); l.listen(1); print("ready", flush=True)
    c, _ = l.accept(); c.settimeout(5)
    c.recv(4096)
    c.sendall(legacy("local", 1, 0))
    time.sleep(1)
PY
read -r p0 p1 < <(free_ports)
spec="0=127.0.0.1:$p0,1=127.0.0.1:$p1"
"$SPANVM" dsm-node --cluster "$spec" --node 1 --workload counter --key-file k1 >o1 2>e1 &
n1=$!
out="$(timeout 60 python3 forge.py dial "$p1")" || fail "forge.py dial failed: $out"
# The connection closes as node 1 logs its rejection: wait for the line
# before stopping node 1, so a slow write is not cut off by the kill.
for _ in $(seq 200); do grep -q "rejected connection" e1 && break; sleep 0.1; done
kill "$n1" 2>/dev/null || true
wait "$n1" 2>/dev/null || true
[ "$out" = "closed 0" ] || fail "forged dialer: node 1 sent something or did not close: '$out'"
[ "$(lines e1)" = 1 ] && grep -q "rejected connection from .*unauthenticated handshake" e1 ||
    fail "forged dialer: node 1 stderr, want one rejection line: $(cat e1)"
mp_log "forged dialer: $(cat e1)"

read -r p0 p1 < <(free_ports)
spec="0=127.0.0.1:$p0,1=127.0.0.1:$p1"
python3 forge.py accept "$p1" >fo &
fp=$!
for _ in $(seq 100); do grep -q ready fo 2>/dev/null && break; sleep 0.05; done
rc=0; timeout 30 "$SPANVM" dsm-node --cluster "$spec" --node 0 --workload counter --key-file k1 >o0 2>e0 || rc=$?
wait "$fp" || true
[ "$rc" = 70 ] || fail "forged acceptor: node 0 exit $rc, want 70; stderr: $(cat e0)"
[ "$(lines e0)" = 1 ] && grep -q "node 1 .*unauthenticated handshake" e0 ||
    fail "forged acceptor: node 0 stderr, want one line naming node 1: $(cat e0)"
mp_log "forged acceptor: $(cat e0)"
pass "wrong key and forged handshakes refused with one line at each end"
