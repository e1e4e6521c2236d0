#!/usr/bin/env bash
# cluster_processes.sh CASE HOSTS [EXEC-PLACEMENT [netns]] : programs that
# start programs, spread over HOSTS hosts on this machine (`spanvm run
# --local-hosts HOSTS`, each host in its own network namespace with
# `netns`), byte for byte equal to a native run (docs/ARCHITECTURE.md,
# "Processes across hosts"): a fork at the origin makes a local process
# there. With EXEC-PLACEMENT (round-robin, least-loaded: `--place-exec`),
# exec'd images start on other hosts (each host's node starts their
# sessions) with deputies at the origin, and the process table and the
# machine table's `procs` must show processes on every host.
#   pipeline  sh -c 'seq 1 200000 | sort -n | uniq -c | wc -l'
#   xargs     xargs -P 4
#   make      make -j4 of the generated 64-file C project, whose binary then runs
#   signals   a placed image killed by SIGTERM, one by SIGSEGV, one exiting 7:
#             the parent shell sees 143, 139 and 7
#   kill_node make -j4, the run's node 1 killed mid-build: over within 5 s,
#             one line per host naming it (the hosts share this terminal),
#             no process of the run left (on any host:
#             the sessions node 1 started included)
#   kill_node_execs  the same with `seq 1 20000 | xargs -P 4 -n 1 true`:
#             placements to host 1 in flight when it goes end with the run,
#             quietly (no "runs at the origin instead" line beside the run's)
#   gather    gp_proc_fork_gather: a fork after a thread on another node wrote
#             8 MiB; the child sees every byte (and a fork while a thread runs
#             there is ENOSYS); placed, it runs on host 1 after a seq
# The process table (--stats) and `processes` in --json must list the children.
. "$(dirname "$0")/lib.sh"
[ $# -ge 2 ] && [ $# -le 4 ] ||
    fail "usage: $0 pipeline|xargs|make|signals|kill_node|kill_node_execs|gather HOSTS [round-robin|least-loaded [netns]]"
skip_in_native_mode "multi-host runs"
it_setup
hosts="$2"
opts=(--local-hosts "$hosts" --place round-robin --stats --json tables.json)
[ -n "${3:-}" ] && opts+=(--place-exec "$3")
if [ "${4:-}" = netns ]; then
    need_netns
    opts+=(--netns)
fi
case "$1" in
pipeline) cmd=("$(tool sh)" -c 'seq 1 200000 | sort -n | uniq -c | wc -l') ;;
xargs)
    # xargs' own status too (the pipeline's is sort's): an echo that failed
    # (its deputy ending with status 70) loses its line, and xargs says 123.
    seq 1 200 >in.txt
    cmd=("$(tool sh)" -c "{ $(tool xargs) -P 4 -n 7 echo <in.txt; echo \$? >xargs.rc; } | sort -n") ;;
make)
    "$(dirname "$0")/gen_c_project.sh" proj 64
    cp -r proj proj_native
    rc_of run_direct "$(tool make)" -s -C proj_native -j4 >/dev/null 2>make_native.err
    expect_rc "$RC" 0 "native make -j4" make_native.err
    rc_of run_guest "${opts[@]}" -- "$(tool make)" -s -C proj -j4 >make.out 2>make.err
    expect_rc "$RC" 0 "make -j4 across $hosts hosts" make.err
    proj_native/prog >native.out
    rc_of proj/prog >guest.out
    expect_rc "$RC" 0 "the binary built across $hosts hosts"
    expect_same_file guest.out native.out "output of the binary built across $hosts hosts"
    cp make.err guest.err
    ;;
kill_node | kill_node_execs)
    # The run's node 1 killed mid-build (kill_node_execs: mid-way through
    # thousands of short placed images, so that placements to host 1 are in
    # flight when it goes): the run ends within 5 s with one line naming
    # it, and nothing of the run is left: its processes and deputies run in
    # the project, the nodes and the sessions they started in this test's
    # directory (their cwd is where `spanvm run` started).
    "$(dirname "$0")/gen_c_project.sh" proj 64
    if [ "$1" = kill_node ]; then
        "$SPANVM" run "${opts[@]}" -- "$(tool make)" -s -C proj -j4 >out 2>err &
    else
        (cd proj && exec "$SPANVM" run "${opts[@]}" -- "$(tool sh)" -c \
            "$(tool seq) 1 20000 | $(tool xargs) -P 4 -n 1 $(tool true)") >out 2>err &
    fi
    origin=$!
    trap 'kill -9 "$origin" 2>/dev/null || true; cd /; rm -rf "$IT_TMP"' EXIT
    if [ "$1" = kill_node ]; then
        for ((i = 0; i < 100; i++)); do ls proj/*.o >/dev/null 2>&1 && break; sleep 0.1; done
    else
        # Until host 1 has run some images (the process table's rows).
        sleep 1.5
    fi
    node="$(pgrep -f -- "--node 1 .*--origin $origin:" | head -n 1)"
    [ -n "$node" ] || fail "no node process of the origin $origin"
    kill -9 "$node"
    t0=$(date +%s%N)
    for ((i = 0; i < 50; i++)); do kill -0 "$origin" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$origin" 2>/dev/null && fail "the run still runs 5 s after node 1 was killed"
    wait "$origin" && fail "the run exited 0 after node 1 was killed"
    ms=$((($(date +%s%N) - t0) / 1000000))
    # One line per host that saw it: the origin's, and with 3 hosts maybe
    # node 2's (the hosts share this terminal), each naming node 1.
    lines="$(grep -c '^spanvm: ' err || true)"
    [ "$lines" -ge 1 ] && [ "$lines" -le $((hosts - 1)) ] || fail "not one line per host:"$'\n'"$(show err)"
    # A deputy's line (if its own failure came first) names the host as
    # "node 1's session (...)".
    [ "$(grep -cE "^spanvm: .*node 1('s session)? \\(" err)" = "$lines" ] || fail "a line does not name node 1:"$'\n'"$(show err)"
    # The run's processes on every host end through their links once the
    # run has: give them until 5 s after the kill (a loaded host is slow to
    # schedule a deputy's last steps), then name whatever is left.
    left_of_run() {
        left=0
        for p in /proc/[0-9]*; do
            [ "${p#/proc/}" = $$ ] && continue  # this test's shell
            case "$(readlink "$p/cwd" 2>/dev/null)" in "$PWD" | "$PWD"/*)
                left=$((left + 1))
                [ "${1:-}" = log ] && it_log "left: $(tr '\0' ' ' <"$p/cmdline" 2>/dev/null | head -c 200)" ;;
            esac
        done
    }
    for ((i = 0; i < 50; i++)); do
        left_of_run
        [ "$left" = 0 ] && break
        [ $((($(date +%s%N) - t0) / 1000000)) -ge 5000 ] && break
        sleep 0.1
    done
    left_of_run log
    [ "$left" = 0 ] || fail "$left process(es) of the run left 5 s after node 1 was killed"
    pass "node 1 killed mid-build: the run ended in $ms ms with $lines line(s) naming it, nothing left"
    ;;
signals)
    # Statuses and signals of placed images reach the parent as Linux's:
    # round-robin puts the background sleep and the self-killing shell on host 1.
    cat >sig.sh <<EOS
$(tool true)
$(tool sleep) 30 &
pid=\$!
$(tool sleep) 0.5
kill -TERM \$pid
wait \$pid
echo "sleep status \$?"
$(tool sh) -c 'kill -SEGV \$\$'
echo "segv status \$?"
$(tool sh) -c 'exit 7'
echo "exit status \$?"
EOS
    cmd=("$(tool sh)" sig.sh)
    ;;
gather)
    cmd=("$(gp proc_fork_gather static)")
    # Placed: a shell runs it second, so round-robin starts it on host 1,
    # where its fork is a fork of a placed image (it continues at the origin).
    [ -n "${3:-}" ] && cmd=("$(tool sh)" -c "$(tool seq) 1 >/dev/null; ${cmd[0]}; $(tool seq) 1 >/dev/null")
    ;;
*) fail "unknown case '$1'" ;;
esac
if [ "$1" != make ]; then
    rc_of run_direct "${cmd[@]}" >native.out 2>native.err
    expect_rc "$RC" 0 "native run" native.err
    rc_of run_guest "${opts[@]}" -- "${cmd[@]}" >guest.out 2>guest.err
    expect_rc "$RC" 0 "run across $hosts hosts" guest.err
    if [ "$1" = xargs ]; then
        expect_rc "$(cat xargs.rc)" 0 "xargs across $hosts hosts (a child failed)" guest.err
    fi
    expect_same_file guest.out native.out "$1 output"
fi
# Children in the process table (text) and in --json.
expect_grep "process table" guest.err "--stats process table"
procs="$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1])).get("processes", [])))' tables.json)"
[ "$procs" -ge 2 ] || fail "--json lists no child process:"$'\n'"$(show tables.json)"
if [ -n "${3:-}" ]; then
    # The process table's node column and the machine table's procs: a
    # process on every host.
    python3 - "$hosts" tables.json <<'PY' || fail "no process ran on some host (--place-exec $3):"$'\n'"$(show guest.err)"
import json, sys
hosts, d = int(sys.argv[1]), json.load(open(sys.argv[2]))
nodes = {p["node"] for p in d.get("processes", [])}
procs = {m["id"]: m.get("processes", 0) for m in d.get("machines", [])}
sys.exit(0 if nodes >= set(range(hosts)) and all(procs.get(k, 0) > 0 for k in range(hosts)) else 1)
PY
fi
if grep -q "^spanvm: unsupported: fork" guest.err && [ "$1" != gather ]; then
    fail "a fork was refused:"$'\n'"$(show guest.err)"
fi
pass "$1 across $hosts hosts"
