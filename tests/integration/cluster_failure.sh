#!/usr/bin/env bash
# cluster_failure.sh CASE : failures of a multi-host run end it cleanly.
#   kill_node     SIGKILL node 1 mid-run: the origin ends within 5 s with one
#                 line naming node 1 and a non-zero status
#   kill_origin   SIGKILL the origin mid-run (nodes started by hand from a
#                 cluster file): node 1 ends within 5 s naming node 0
#   bad_file      a malformed cluster file: one line, status 2
#   unreachable   node 1 never starts: one line naming it, non-zero, no hang
#   version       node 1 runs with another --mem (another build looks the
#                 same to the handshake): both refuse, one line, non-zero
#   port_in_use   two origins on one port: the second fails with one line
. "$(dirname "$0")/lib.sh"
[ $# = 1 ] || fail "usage: $0 CASE"
skip_in_native_mode "multi-host failure handling"
it_setup
sb="$(tool sysbench)"
long=("$sb" cpu --threads=2 --time=60 run)

# cluster_file PORT0 PORT1 > file
cluster_file() {
    printf '[cluster]\nname = "it"\n[[node]]\nid = 0\naddress = "127.0.0.1"\nport = %s\n[[node]]\nid = 1\naddress = "127.0.0.1"\nport = %s\n' "$1" "$2"
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# wait_gone PID SECS: waits for PID to end; fails if it outlives SECS.
wait_gone() {
    local i
    for ((i = 0; i < $2 * 10; i++)); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
    kill -9 "$1" 2>/dev/null || true
    fail "process $1 still running $2 s after the failure"
}
# wait_for_threads_on_node1 ERRFILE: the run is up when node 1 has joined.
settle() { sleep "${1:-3}"; }

case "$1" in
kill_node)
    "$SPANVM" run --local-hosts 2 -- "${long[@]}" >out 2>err &
    origin=$!
    settle 4
    node="$(pgrep -P "$origin" | head -n 1)"
    [ -n "$node" ] || fail "no node process under the origin"
    kill -9 "$node"
    t0=$(date +%s%N)
    wait_gone "$origin" 5
    rc=0
    wait "$origin" || rc=$?
    [ "$rc" != 0 ] || fail "origin exited 0 after losing node 1"
    expect_grep "node 1" err "the origin's failure line"
    pass "origin ended $(((($(date +%s%N) - t0) / 1000000))) ms after node 1 died, status $rc"
    ;;
kill_origin)
    p0=$(free_port) p1=$(free_port)
    cluster_file "$p0" "$p1" >c.toml
    "$SPANVM" node --cluster c.toml --node 1 >nout 2>nerr &
    node=$!
    "$SPANVM" run --cluster c.toml -- "${long[@]}" >out 2>err &
    origin=$!
    settle 4
    kill -0 "$node" || fail "node 1 ended before the origin was killed:"$'\n'"$(show nerr)"
    kill -9 "$origin"
    wait_gone "$node" 5
    rc=0
    wait "$node" || rc=$?
    [ "$rc" != 0 ] || fail "node 1 exited 0 after losing the origin"
    expect_grep "node 0" nerr "node 1's failure line"
    pass "node 1 ended with status $rc naming node 0"
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
    p0=$(free_port) p1=$(free_port)
    cluster_file "$p0" "$p1" >c.toml
    "$SPANVM" node --cluster c.toml --node 1 >nout 2>nerr &
    node=$!
    "$SPANVM" run --cluster c.toml -- "${long[@]}" >out 2>err &
    origin=$!
    settle 3
    rc_of run_spanvm -t 20 run --cluster c.toml -- /bin/true >out2 2>err2
    [ "$RC" != 0 ] || fail "a second origin on the same port exited 0"
    [ "$(line_count err2)" = 1 ] || fail "want one line:"$'\n'"$(show err2)"
    kill -9 "$origin" "$node" 2>/dev/null || true
    pass "status $RC, $(cat err2)"
    ;;
*) fail "unknown case $1" ;;
esac
