#!/usr/bin/env bash
# cluster_failure.sh CASE : failures of a multi-host run end it cleanly.
#   kill_node     SIGKILL node 1 mid-run: the origin ends within 5 s with one
#                 line naming node 1 and a non-zero status
#   kill_origin   SIGKILL the origin mid-run (nodes started by hand from a
#                 cluster file): node 1 ends within 5 s naming node 0
#   cut_node      3 hosts in network namespaces; node 2's link goes down mid-run
#                 (no reset, packets just vanish): the origin ends within 5 s
#                 naming node 2, non-zero, and no node process survives
#   cut_origin    origin and node 1 (started by hand) on loopback in a network
#                 namespace whose lo starts dropping every packet mid-run: node
#                 1 ends within 5 s with one line naming node 0, non-zero, and
#                 the origin ends too, naming node 1
#   stop_node     3 hosts started by hand on loopback; node 2 is frozen
#                 (SIGSTOP: no reset, no traffic) mid-run: the origin ends
#                 within 5 s naming node 2, node 1 within 5 s with one line
#                 (naming node 2 when the origin's Abort got out, else node 0)
#   bad_file      a malformed cluster file: one line, status 2
#   unreachable   node 1 never starts: one line naming it, non-zero, no hang
#   version       node 1 runs with another --mem (another build looks the
#                 same to the handshake): both refuse, one line, non-zero
#   port_in_use   two origins on one port: the second fails with one line
FREE_PORTS="$(cd "$(dirname "$0")/.." && pwd)/free_ports.py"  # before lib.sh moves to a work directory
. "$(dirname "$0")/lib.sh"
[ $# = 1 ] || fail "usage: $0 CASE"
skip_in_native_mode "multi-host failure handling"
it_setup
sb="$(tool sysbench)"
long=("$sb" cpu --threads=2 --time=60 run)

# cluster_file PORT0 PORT1 > file (with cluster.key, made here once, as its key)
cluster_file() {
    [ -e cluster.key ] || "$SPANVM" keygen cluster.key >&2 || fail "spanvm keygen failed"
    printf '[cluster]\nname = "it"\nkey_file = "cluster.key"\n[[node]]\nid = 0\naddress = "127.0.0.1"\nport = %s\n[[node]]\nid = 1\naddress = "127.0.0.1"\nport = %s\n' "$1" "$2"
}
# A port below the ephemeral range (tests/free_ports.py says why).
free_port() { python3 "$FREE_PORTS" 1; }
# wait_gone PID SECS: waits for PID to end; fails if it outlives SECS.
wait_gone() {
    local i
    for ((i = 0; i < $2 * 10; i++)); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
    kill -9 "$1" 2>/dev/null || true
    fail "process $1 still running $2 s after the failure"
}
# wait_for_threads_on_node1 ERRFILE: the run is up when node 1 has joined.
settle() { sleep "${1:-3}"; }
# status_of PID : sets $rc to the exit status of background job PID (no
# subshell: only this shell can wait for its jobs).
status_of() {
    rc=0
    wait "$1" || rc=$?
}
# Node 1 and an origin running the long program on two free ports (c.toml);
# sets $node and $origin.
start_pair() {
    p0=$(free_port) p1=$(free_port)
    cluster_file "$p0" "$p1" >c.toml
    "$SPANVM" node --cluster c.toml --node 1 >nout 2>nerr &
    node=$!
    "$SPANVM" run --cluster c.toml -- "${long[@]}" >out 2>err &
    origin=$!
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# alive PID : running (a zombie nobody has reaped yet counts as gone).
alive() { [ -r "/proc/$1/stat" ] && [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
# gone_within T0_MS SECS PID... : waits until every PID has ended; fails if
# one is still running SECS seconds after T0_MS (wall clock, not loop count).
gone_within() {
    local t0=$1 secs=$2 p
    shift 2
    for p in "$@"; do
        while alive "$p"; do
            if (($(now_ms) - t0 > secs * 1000)); then
                kill -9 "$@" 2>/dev/null || true
                fail "process $p still running $secs s after the cut"
            fi
            sleep 0.05
        done
    done
}
# start_netns3 : starts the long program across 3 hosts in network namespaces
# in the background (origin=$!) and waits until its threads are running. In
# --netns mode the origin's own namespace holds bridge br0 (10.232.0.1) and,
# for node K, the host end vK of the veth pair whose other end is K's eth0.
start_netns3() {
    need_netns
    command -v nsenter >/dev/null || fail "nsenter (util-linux) is not installed"
    "$SPANVM" run --local-hosts 3 --netns --place round-robin -- "$sb" cpu --threads=4 --time=60 run >out 2>err &
    origin=$!
    # A failed assertion must not leave the run behind (its nodes die with it).
    trap 'kill -9 "$origin" 2>/dev/null || true; cd /; rm -rf "$IT_TMP"' EXIT
    local i
    for ((i = 0; i < 600; i++)); do
        grep -q "Threads started" out 2>/dev/null && break
        kill -0 "$origin" 2>/dev/null || fail "the run ended before the cut:"$'\n'"$(show err)"
        sleep 0.1
    done
    grep -q "Threads started" out || fail "sysbench did not start within 60 s:"$'\n'"$(show err)"
    # The nodes are not the origin's children (local_hosts.hpp): they name it in --origin.
    node1="$(pgrep -f -- "--node 1 .*--origin $origin:" || true)"
    node2="$(pgrep -f -- "--node 2 .*--origin $origin:" || true)"
    [ -n "$node1" ] && [ -n "$node2" ] || fail "node processes not found under the origin $origin"
    sleep 1 # threads on every node are running and faulting
}
in_origin_ns() { nsenter --net="/proc/$origin/ns/net" "$@"; }

case "$1" in
kill_node)
    "$SPANVM" run --local-hosts 2 --place round-robin -- "${long[@]}" >out 2>err &
    origin=$!
    settle 4
    node="$(pgrep -f -- "--node 1 .*--origin $origin:" | head -n 1)"
    [ -n "$node" ] || fail "no node process under the origin"
    kill -9 "$node"
    t0=$(date +%s%N)
    wait_gone "$origin" 5
    status_of "$origin"
    [ "$rc" != 0 ] || fail "origin exited 0 after losing node 1"
    expect_grep "node 1" err "the origin's failure line"
    pass "origin ended $(((($(date +%s%N) - t0) / 1000000))) ms after node 1 died, status $rc"
    ;;
kill_origin)
    start_pair
    settle 4
    kill -0 "$node" || fail "node 1 ended before the origin was killed:"$'\n'"$(show nerr)"
    kill -9 "$origin"
    wait_gone "$node" 5
    status_of "$node"
    [ "$rc" != 0 ] || fail "node 1 exited 0 after losing the origin"
    expect_grep "node 0" nerr "node 1's failure line"
    pass "node 1 ended with status $rc naming node 0"
    ;;
cut_node)
    start_netns3
    in_origin_ns ip link set v2 down || fail "could not take node 2's link down"
    t0=$(now_ms)
    gone_within "$t0" 5 "$origin"
    t_origin=$(($(now_ms) - t0))
    gone_within "$t0" 5 "$node1" "$node2"
    status_of "$origin"
    [ "$rc" != 0 ] || fail "origin exited 0 after losing node 2"
    expect_grep "node 2 \(10\.232\.0\.3:[0-9]+\) failed: no traffic for" err "the origin's failure line"
    # The origin's line; node 1 may add its own before it goes (one per survivor).
    [ "$(grep -c 'node 2 (' err)" -le 2 ] || fail "more than one line per survivor naming node 2:"$'\n'"$(show err)"
    expect_grep "Threads started" out "the output written before the cut"
    pass "origin ended $t_origin ms after node 2's link went down, status $rc: $(grep 'node 2 (' err)"
    ;;
stop_node)
    p0=$(free_port) p1=$(free_port) p2=$(free_port)
    { cluster_file "$p0" "$p1"; printf '[[node]]\nid = 2\naddress = "127.0.0.1"\nport = %s\n' "$p2"; } >c.toml
    "$SPANVM" node --cluster c.toml --node 1 >nout 2>nerr &
    node1=$!
    "$SPANVM" node --cluster c.toml --node 2 >n2out 2>n2err &
    node2=$!
    node="$node1" origin=""
    trap 'kill -9 $node1 $node2 $origin 2>/dev/null || true; cd /; rm -rf "$IT_TMP"' EXIT
    sb4=("$sb" threads --threads=4 --time=60 run)
    "$SPANVM" run --cluster c.toml -- "${sb4[@]}" >out 2>err &
    origin=$!
    for ((i = 0; i < 600; i++)); do
        grep -q "Threads started" out 2>/dev/null && break
        sleep 0.05
    done
    grep -q "Threads started" out || fail "the run did not start:"$'\n'"$(show err)"
    kill -STOP "$node2"
    t0=$(now_ms)
    gone_within "$t0" 5 "$origin" "$node1"
    kill -9 "$node2" 2>/dev/null || true
    status_of "$origin"
    [ "$rc" != 0 ] || fail "origin exited 0 after node 2 froze"
    expect_grep "node 2 \(127\.0\.0\.1:[0-9]+\) failed" err "the origin's failure line"
    # Node 1 names node 2 when the origin's Abort reaches it (best effort: a
    # busy link can hold it back), else the origin that left it.
    expect_grep "node [02] \(127\.0\.0\.1:[0-9]+\) failed" nerr "node 1's failure line"
    [ "$(grep -c fatal nerr)" = 1 ] || fail "node 1 printed more than one failure line:"$'\n'"$(show nerr)"
    pass "origin and node 1 ended $(($(now_ms) - t0)) ms after node 2 froze: $(grep fatal nerr)"
    ;;
cut_origin)
    # Node 1 started by hand (nothing kills it with the origin), both on
    # loopback inside a network namespace of this test, whose lo then drops
    # every packet (a FIFO of length 0 has no bypass). Node 1 must notice the
    # silence itself. (netem loss 100% would do as well where sch_netem exists.)
    [ "$(id -u)" = 0 ] || { echo "SKIP [$IT_NAME]: network namespaces need root" >&3; exit 77; }
    command -v tc >/dev/null || fail "tc (iproute2) is not installed"
    command -v unshare >/dev/null && command -v nsenter >/dev/null || fail "util-linux unshare/nsenter missing"
    unshare -n sleep 600 &
    holder=$!
    node="" origin=""
    trap 'kill -9 $node $origin "$holder" 2>/dev/null || true; cd /; rm -rf "$IT_TMP"' EXIT
    for ((i = 0; i < 100; i++)); do
        [ "$(readlink "/proc/$holder/ns/net")" != "$(readlink /proc/self/ns/net)" ] && break
        sleep 0.05
    done
    inns() { nsenter --net="/proc/$holder/ns/net" "$@"; }
    inns ip link set lo up
    cluster_file 7500 7501 >c.toml
    inns "$SPANVM" node --cluster c.toml --node 1 >nout 2>nerr &
    node=$!
    inns "$SPANVM" run --cluster c.toml -- "${long[@]}" >out 2>err &
    origin=$!
    for ((i = 0; i < 600; i++)); do
        grep -q "Threads started" out 2>/dev/null && break
        alive "$origin" || fail "the run ended before the cut:"$'\n'"$(show err)"
        sleep 0.1
    done
    grep -q "Threads started" out || fail "sysbench did not start within 60 s:"$'\n'"$(show err)"
    sleep 1
    inns tc qdisc add dev lo root pfifo limit 0 || fail "could not add a dropping qdisc to lo"
    t0=$(now_ms)
    gone_within "$t0" 5 "$node"
    t_node=$(($(now_ms) - t0))
    gone_within "$t0" 5 "$origin"
    status_of "$node"
    [ "$rc" != 0 ] || fail "node 1 exited 0 after losing the origin"
    expect_grep "node 0 \(127\.0\.0\.1:7500\) failed: no traffic for" nerr "node 1's failure line"
    [ "$(line_count nerr)" = 1 ] || fail "want one line from node 1:"$'\n'"$(show nerr)"
    status_of "$origin"
    [ "$rc" != 0 ] || fail "origin exited 0 after losing node 1"
    expect_grep "node 1 \(127\.0\.0\.1:7501\) failed: no traffic for" err "the origin's failure line"
    expect_grep "Threads started" out "the output written before the cut"
    pass "node 1 ended $t_node ms after the cut, status $rc: $(cat nerr)"
    ;;
bad_file)
    printf '[cluster]\nname = "x"\n[[node]]\nid = 0\naddress = "not an ip"\nport = 99999\n' >bad.toml
    rc_of run_spanvm -t 10 run --cluster bad.toml -- /bin/true >out 2>err
    expect_rc "$RC" 2 "run with a malformed cluster file" err
    [ "$(line_count err)" = 1 ] || fail "want one line:"$'\n'"$(show err)"
    rc_of run_spanvm -t 10 node --cluster bad.toml --node 1 >out 2>err
    expect_rc "$RC" 2 "node with a malformed cluster file" err
    pass "one line, status 2"
    ;;
unreachable)
    cluster_file "$(free_port)" "$(free_port)" >c.toml
    rc_of run_spanvm -t 40 run --cluster c.toml -- /bin/true >out 2>err
    [ "$RC" != 0 ] || fail "run without node 1 exited 0"
    expect_grep "node 1" err "the failure line"
    [ "$(line_count err)" -le 2 ] || fail "too many lines:"$'\n'"$(show err)"
    pass "status $RC, $(head -n 1 err)"
    ;;
version)
    p0=$(free_port) p1=$(free_port)
    cluster_file "$p0" "$p1" >c.toml
    "$SPANVM" node --cluster c.toml --node 1 --mem 64M >nout 2>nerr &
    node=$!
    rc_of run_spanvm -t 40 run --mem 128M --cluster c.toml -- /bin/true >out 2>err
    [ "$RC" != 0 ] || fail "a mismatched node was accepted"
    expect_grep "handshake|version|rejected|mismatch" err "the origin's failure line"
    wait_gone "$node" 20
    pass "status $RC, $(head -n 1 err)"
    ;;
port_in_use)
    start_pair
    settle 3
    rc_of run_spanvm -t 20 run --cluster c.toml -- /bin/true >out2 2>err2
    [ "$RC" != 0 ] || fail "a second origin on the same port exited 0"
    [ "$(line_count err2)" = 1 ] || fail "want one line:"$'\n'"$(show err2)"
    kill -9 "$origin" "$node" 2>/dev/null || true
    pass "status $RC, $(cat err2)"
    ;;
*) fail "unknown case $1" ;;
esac
