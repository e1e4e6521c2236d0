#!/usr/bin/env bash
# mp_workload.sh MODE N WORKLOAD [ITERATIONS]
# Runs WORKLOAD (counter, litmus-sb, litmus-mp, stress) on an N-node cluster of
# spanvm dsm-node processes (MODE loopback or netns) and checks the result:
#   every node exits 0, nobody prints CHECK FAILED, node 0 prints one
#   "CHECK ok WORKLOAD" line, and its fields say the run was correct:
#   counter   total= equals N * threads * iterations (each thread of each node
#             adds 1 per iteration to one shared counter) and expected= if given
#   litmus-*  violations= (or forbidden=) is 0, iterations= equals the request
#   stress    mismatches= (if given) is 0 (node 0 compares every node's checksums)
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

mp_launch "$n" --timeout 150 -- --workload "$workload" --threads "$threads" --iterations "$iterations" \
    "${extra[@]}" --timeout-s 140
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
    total="$(require_num total count counter)"
    [ "$total" = "$want" ] || fail "counter total $total, want $n nodes * $threads threads * $iterations = $want: '$MP_CHECK'"
    expected="$(check_field expected)"
    [ -z "$expected" ] || [ "$expected" = "$want" ] || fail "node 0 expected $expected, but $n*$threads*$iterations = $want: '$MP_CHECK'"
    ;;
litmus-sb | litmus-mp)
    bad="$(require_num violations forbidden)"
    [ "$bad" = 0 ] || fail "$bad forbidden outcomes: '$MP_CHECK'"
    ran="$(check_field iterations)"
    [ -z "$ran" ] || [ "$ran" = "$iterations" ] || fail "ran $ran iterations, asked for $iterations: '$MP_CHECK'"
    ;;
stress)
    mism="$(check_field mismatches)"
    [ -z "$mism" ] || [ "$mism" = 0 ] || fail "$mism checksum mismatches: '$MP_CHECK'"
    ;;
esac
pass "$n nodes ($mode): $MP_CHECK"
