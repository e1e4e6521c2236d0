# Shared helpers for the multi-process DSM tests. Source it first thing:
#   . "$(dirname "$0")/lib.sh"
#
# Every test runs a whole cluster of real `spanvm dsm-node` processes through
# scripts/dsm-launch and then asserts on what the nodes printed (the CHECK line
# of node 0, each node's exit status, the survivors' failure lines), not only
# on dsm-launch's own verdict.
#
# Environment:
#   SPANVM      spanvm binary (CMake passes $<TARGET_FILE:spanvm>)
#   DSM_LAUNCH  scripts/dsm-launch of the source tree
#   MP_KEEP=1   keep the run directory (cluster.toml, node-K.out/err) on failure
# Assertion helpers exit with status 1 and one "FAIL [...]" line plus context.

set -euo pipefail

MP_NAME="$(basename "$0" .sh)${*:+ $*}"
exec 3>&2

: "${SPANVM:?SPANVM must name the spanvm binary}"
: "${DSM_LAUNCH:?DSM_LAUNCH must name scripts/dsm-launch}"

mp_log() { echo "[$MP_NAME] $*" >&3; }
fail() {
    echo "FAIL [$MP_NAME]: $*" >&3
    if [ -n "${MP_TMP:-}" ] && [ -s "$MP_TMP/launch.log" ]; then sed 's/^/    | /' "$MP_TMP/launch.log" >&3; fi
    if [ "${MP_KEEP:-0}" = 1 ] && [ -n "${MP_TMP:-}" ]; then
        echo "    (kept $MP_TMP)" >&3
        trap - EXIT
    fi
    exit 1
}
pass() {
    echo "PASS [$MP_NAME]${1:+: $*}" >&3
    exit 0
}

MP_TMP="$(mktemp -d "${TMPDIR:-/tmp}/spanvm-mp.XXXXXX")"
trap 'rm -rf "$MP_TMP"' EXIT
MP_RUN="$MP_TMP/run"

# mp_mode loopback|netns: sets MP_MODE_ARGS for dsm-launch.
mp_mode() {
    case "$1" in
    loopback) MP_MODE_ARGS=() ;;
    netns)
        if [ "$(id -u)" != 0 ]; then
            # Network namespaces need root; run `ctest -LE netns` as a user.
            echo "SKIP [$MP_NAME]: network namespaces need root" >&3
            exit 77
        fi
        MP_MODE_ARGS=(--netns)
        ;;
    *) fail "unknown mode '$1' (loopback|netns)" ;;
    esac
}

# mp_launch N [dsm-launch options] -- DSM-NODE-ARGS: runs the cluster; the
# status of dsm-launch is left in MP_LAUNCH_RC, its output in launch.log.
mp_launch() {
    local n="$1"
    shift
    mp_log "dsm-launch --nodes $n ${MP_MODE_ARGS[*]} $*"
    MP_LAUNCH_RC=0
    "$DSM_LAUNCH" --nodes "$n" "${MP_MODE_ARGS[@]}" --out "$MP_RUN" "$@" >"$MP_TMP/launch.log" 2>&1 || MP_LAUNCH_RC=$?
    [ "$MP_LAUNCH_RC" != 2 ] || fail "dsm-launch refused to start (status 2: bad arguments or environment)"
}

# Summary line of node K as printed by dsm-launch ("node K: exit 0 after 1.2s").
node_summary() { grep -m1 -E "^dsm-launch: node $1: " "$MP_RUN/summary.txt" || true; }

assert_all_exit_zero() {
    local k s
    for ((k = 0; k < $1; k++)); do
        s="$(node_summary "$k")"
        [[ "$s" == "dsm-launch: node $k: exit 0 after "* ]] || fail "node $k did not exit 0: '${s:-no summary line}'"
    done
    [ "$MP_LAUNCH_RC" = 0 ] || fail "dsm-launch reported failure (status $MP_LAUNCH_RC)"
}

# No node may print CHECK FAILED; node 0 must print exactly one "CHECK ok W"
# line, which is echoed in MP_CHECK.
assert_check_ok() {
    local n="$1" workload="$2" k
    for ((k = 0; k < n; k++)); do
        if grep -q '^CHECK FAILED' "$MP_RUN/node-$k.out"; then
            fail "node $k: $(grep -m1 '^CHECK FAILED' "$MP_RUN/node-$k.out")"
        fi
    done
    local count
    count="$(grep -c "^CHECK ok $workload\\b" "$MP_RUN/node-0.out" || true)"
    [ "$count" = 1 ] || fail "node 0 printed $count 'CHECK ok $workload' lines, want 1; stdout: $(head -c 300 "$MP_RUN/node-0.out")"
    MP_CHECK="$(grep -m1 "^CHECK ok $workload\\b" "$MP_RUN/node-0.out")"
}

# check_field KEY: value of KEY=VALUE in MP_CHECK, empty if absent.
check_field() { sed -n -E "s/.*[ ,]$1=([^ ,]+).*/\\1/p" <<<"$MP_CHECK" | head -n1; }
