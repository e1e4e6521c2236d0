#!/usr/bin/env bash
# mp_launch_args.sh: dsm-launch rejects bad invocations with status 2 and one
# "dsm-launch: " line, before starting any node.
. "$(dirname "$0")/lib.sh"

expect_usage_error() {
    local want="$1" out rc=0
    shift
    out="$("$DSM_LAUNCH" "$@" 2>&1)" || rc=$?
    [ "$rc" = 2 ] || fail "dsm-launch $* exited $rc, want 2: $out"
    [ "$(wc -l <<<"$out")" = 1 ] || fail "dsm-launch $*: want one line, got: $out"
    [[ "$out" == "dsm-launch: "*"$want"* ]] || fail "dsm-launch $*: message lacks '$want': $out"
}
expect_usage_error "--nodes is required" -- --workload counter
expect_usage_error "--nodes needs a whole number" --nodes two -- --workload counter
expect_usage_error "is set by dsm-launch" --nodes 2 -- --workload counter --node 1
expect_usage_error "is set by dsm-launch" --nodes 2 -- --config x.toml --workload counter
expect_usage_error "no dsm-node arguments" --nodes 2 --
expect_usage_error "is not a node of 0..1" --nodes 2 --kill-node 2 --kill-after-ms 10 -- --workload stress
expect_usage_error "go together" --nodes 2 --kill-node 1 -- --workload stress
expect_usage_error "unknown option" --nodes 2 --frobnicate -- --workload counter
SPANVM=/nonexistent/spanvm expect_usage_error "not found or not executable" --nodes 2 -- --workload counter
pass
