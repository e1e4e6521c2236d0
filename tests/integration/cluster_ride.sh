#!/usr/bin/env bash
# cluster_ride.sh CASE : Layouts riding on a Resume (docs/dsm-protocol.md
# "Fillers", F6) for an exec placed on host 1 of 2 (`--local-hosts 2
# --netns --place-exec round-robin`), counted per process in --json
# (`layout_round_trips`: Layouts sent and waited for; `layouts_ridden`).
#   true     two placed /bin/true: each rides its loader's changes on its
#            Spawn and its mm calls' protection changes on their Resumes,
#            and sends the fills of files already named unacked (F7), so
#            it pays at most a third of the Layout round trips of the same
#            run with rides off (SPANVM_LAYOUT_RIDE=0, which turns F7 off
#            too: 30 each when this was written, 24 since ld.so's segments
#            over their reservation change only protection and mappings
#            are made with their final protection; 13 with rides alone, 5
#            with F7: one per file declared), and the counts of the two
#            are equal; the output equals native
#   threads  a placed malloc_stress (8 threads mapping, unmapping and
#            remapping at once): its mm calls ride only while its main
#            thread is alone on the node, then go as Layouts again; its
#            self-check passes, as native
. "$(dirname "$0")/lib.sh"
[ $# -eq 1 ] || fail "usage: $0 true|threads"
skip_in_native_mode "multi-host runs"
need_netns
it_setup
opts=(--local-hosts 2 --netns --place round-robin --place-exec round-robin)
# counts FILE PROGRAM: "round_trips ridden threads_total" of each process
# of PROGRAM on node 1, one line each.
counts() {
    node1_fields --all "$1" "$2" layout_round_trips layouts_ridden threads_total
}
case "$1" in
true)
    # round-robin: the shell stays at the origin, the execs alternate 0, 1
    # (`tool true` would name the shell's builtin).
    t="$(type -P true)" || fail "true is not installed"
    cmd=("$(tool sh)" -c "$t; $t; $t; $t; echo done")
    rc_of run_direct "${cmd[@]}" >native.out 2>native.err
    expect_rc "$RC" 0 "native run" native.err
    rc_of run_guest "${opts[@]}" --json ride.json -- "${cmd[@]}" >ride.out 2>ride.err
    expect_rc "$RC" 0 "placed /bin/true, rides on" ride.err
    expect_same_file ride.out native.out "placed /bin/true output (rides on)"
    rc_of env SPANVM_LAYOUT_RIDE=0 "$SPANVM" run "${opts[@]}" --json off.json -- "${cmd[@]}" >off.out 2>off.err
    expect_rc "$RC" 0 "placed /bin/true, rides off" off.err
    expect_same_file off.out native.out "placed /bin/true output (rides off)"
    mapfile -t on < <(counts ride.json true)
    mapfile -t off < <(counts off.json true)
    it_log "rides on: ${on[*]}; rides off: ${off[*]} (round trips, ridden, threads)"
    [ "${#on[@]}" = 2 ] && [ "${#off[@]}" = 2 ] || fail "expected 2 placed /bin/true each run: ${#on[@]}, ${#off[@]}"
    [ "${on[0]}" = "${on[1]}" ] || fail "the two placed /bin/true differ: ${on[0]} / ${on[1]}"
    read -r on_rt on_ridden _ <<<"${on[0]}"
    read -r off_rt off_ridden _ <<<"${off[0]}"
    [ "$off_ridden" = 0 ] || fail "rides off, yet $off_ridden Layouts rode"
    [ "$on_ridden" -ge 5 ] || fail "only $on_ridden Layouts rode on a Resume"
    [ $((on_rt * 3)) -le "$off_rt" ] || fail "rides saved too few round trips: $on_rt with rides, $off_rt without"
    pass "placed /bin/true: $on_rt Layout round trips + $on_ridden ridden (rides off: $off_rt round trips)"
    ;;
threads)
    prog="$(gp malloc_stress dynamic)"
    t="$(type -P true)" || fail "true is not installed"
    cmd=("$(tool sh)" -c "$t; $prog; $t")
    rc_of run_guest "${opts[@]}" --json threads.json -- "${cmd[@]}" >threads.out 2>threads.err
    expect_rc "$RC" 0 "placed malloc_stress" threads.err
    read -r rt ridden threads <<<"$(counts threads.json gp_malloc_stress)"
    it_log "placed malloc_stress: $rt round trips, $ridden ridden, $threads threads"
    [ "$threads" -ge 9 ] || fail "malloc_stress ran $threads threads, expected 9"
    [ "$ridden" -ge 1 ] || fail "no Layout rode while its main thread was alone"
    [ "$rt" -ge 10 ] || fail "only $rt Layouts were sent and acked once its threads ran"
    pass "placed malloc_stress: $ridden Layouts ridden while alone, $rt round trips with its threads"
    ;;
*) fail "unknown case '$1'" ;;
esac
