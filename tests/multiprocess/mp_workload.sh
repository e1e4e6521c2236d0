#!/usr/bin/env bash
# mp_workload.sh MODE N WORKLOAD [ITERATIONS]
# Runs WORKLOAD (counter, litmus-sb, litmus-mp, stress) on an N-node cluster of
# spanvm dsm-node processes (MODE loopback or netns) and checks the result:
#   every node exits 0, nobody prints CHECK FAILED, node 0 prints one
#   "CHECK ok WORKLOAD" line, and its fields say the run was correct:
#   counter   each= equals N * threads * iterations (each thread of each node
#             adds 1 per iteration to every shared counter, lock xadd) and
#             total= equals each * counters
#   litmus-*  violations= (or forbidden=) is 0, iterations= equals the request
#   stress    checksums=match and bad_reads=0 (node 0 recomputes every page's
#             checksum from memory and from the reference sequence)
. "$(dirname "$0")/lib.sh"

[ $# -ge 3 ] || fail "usage: mp_workload.sh loopback|netns N WORKLOAD [ITERATIONS]"
mode="$1" n="$2" workload="$3"
mp_mode "$mode"

threads=2
case "$workload" in
counter) iterations="${4:-400}" extra=(--pages 1) ;;
litmus-sb | litmus-mp) iterations="${4:-1000}" extra=() ;;
stress) iterations="${4:-1500}" extra=(--pages 16 --seed 12345) ;;
*) fail "unknown workload '$workload'" ;;
esac

# MP_RUN_S: the run's own time limit (long runs get more; CMakeLists.txt).
run_s="${MP_RUN_S:-140}"
mp_launch "$n" --timeout $((run_s + 10)) -- --workload "$workload" --threads "$threads" --iterations "$iterations" \
    "${extra[@]}" --timeout-s "$run_s"
assert_all_exit_zero "$n"
assert_check_ok "$n" "$workload"

# A numeric field that must be present (first of the given names) or absent.
require_num() {
    local v="" name
    for name in "$@"; do
        v="$(check_field "$name")"
        [ -z "$v" ] || break
    done
    [ -n "$v" ] || fail "node 0's CHECK line has none of the fields: $*: '$MP_CHECK'"
    [[ "$v" =~ ^[0-9]+$ ]] || fail "field $name='$v' is not a whole number: '$MP_CHECK'"
    echo "$v"
}

case "$workload" in
counter)
    want=$((n * threads * iterations))
    each="$(require_num each)"
    counters="$(require_num counters)"
    total="$(require_num total)"
    [ "$each" = "$want" ] || fail "each counter is $each, want $n nodes * $threads threads * $iterations = $want: '$MP_CHECK'"
    [ "$total" = $((want * counters)) ] || fail "total $total, want $want * $counters counters: '$MP_CHECK'"
    ;;
litmus-sb | litmus-mp)
    bad="$(require_num violations forbidden)"
    [ "$bad" = 0 ] || fail "$bad forbidden outcomes: '$MP_CHECK'"
    ran="$(check_field iterations)"
    [ -z "$ran" ] || [ "$ran" = "$iterations" ] || fail "ran $ran iterations, asked for $iterations: '$MP_CHECK'"
    ;;
stress)
    [ "$(check_field checksums)" = match ] || fail "page checksums do not match the reference: '$MP_CHECK'"
    bad="$(require_num bad_reads)"
    [ "$bad" = 0 ] || fail "$bad reads returned values never written: '$MP_CHECK'"
    ;;
esac
pass "$n nodes ($mode): $MP_CHECK"
