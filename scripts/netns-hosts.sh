#!/usr/bin/env bash
# netns-hosts.sh: N emulated hosts on one machine, as network namespaces joined
# by a bridge, for multi-process spanvm DSM tests.
#
#   netns-hosts.sh [--prefix P] up N [--delay-ms D]   create hosts P-h0..P-h(N-1)
#   netns-hosts.sh [--prefix P] down                  remove everything P-* made by up
#   netns-hosts.sh [--prefix P] addr K                print host K's IPv4 address
#   netns-hosts.sh [--prefix P] ns K                  print host K's namespace name
#   netns-hosts.sh [--prefix P] exec K CMD...         run CMD inside host K
#
# The prefix comes from --prefix, else $SPANVM_NETNS_PREFIX, else "spanvm-$PPID"
# (the calling shell's pid), so concurrent users do not collide. It must match
# [A-Za-z0-9_.-]{1,40}.
#
# Topology (nothing is created in the root namespace, so parallel sets of hosts
# with the same addresses cannot interfere):
#   namespace P-br : bridge "br0" with ports v0..v(N-1)
#   namespace P-hK : "eth0" (peer of vK) = 10.231.0.(K+1)/24, and "lo"; both up
# With --delay-ms D, netem adds D ms to every packet leaving each host's eth0,
# so a round trip between two hosts gains 2*D ms.
#
# Invariants: `down` only deletes namespaces named exactly P-br and P-h<digits>
# (deleting a namespace destroys the veth ends inside it); it is idempotent and
# succeeds when nothing exists. `up` on failure removes what it created.
# Exit status: 0 ok, 1 failure, 2 bad arguments; errors are one "netns-hosts: " line.
set -euo pipefail

readonly SUBNET_PREFIX="10.231.0"
readonly MAX_HOSTS=200
step="" # what do_up is doing, for its failure message (global: read by the EXIT trap)

die() {
    echo "netns-hosts: $*" >&2
    exit 1
}
usage_error() {
    echo "netns-hosts: $* (usage: netns-hosts.sh [--prefix P] up N [--delay-ms D] | down | addr K | ns K | exec K CMD...)" >&2
    exit 2
}

is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }

prefix="${SPANVM_NETNS_PREFIX:-spanvm-$PPID}"
if [ "${1:-}" = "--prefix" ]; then
    [ $# -ge 2 ] || usage_error "--prefix needs a value"
    prefix="$2"
    shift 2
fi
[[ "$prefix" =~ ^[A-Za-z0-9_.-]{1,40}$ ]] || usage_error "bad prefix '$prefix' (want [A-Za-z0-9_.-]{1,40})"
[ $# -ge 1 ] || usage_error "missing command"
cmd="$1"
shift

bridge_ns="$prefix-br"
host_ns() { echo "$prefix-h$1"; }
host_addr() { echo "$SUBNET_PREFIX.$(($1 + 1))"; }

need_tools() {
    command -v ip >/dev/null 2>&1 || die "'ip' (iproute2) not found in PATH"
    [ "$(id -u)" = 0 ] || die "must run as root to create network namespaces (uid $(id -u))"
}

ns_exists() { [ -e "/run/netns/$1" ]; }

# Every namespace of this prefix that `up` may have created.
our_namespaces() {
    local n
    for n in /run/netns/"$prefix"-br /run/netns/"$prefix"-h*; do
        [ -e "$n" ] || continue
        n="${n##*/}"
        if [ "$n" = "$bridge_ns" ] || [[ "$n" =~ ^"$prefix"-h[0-9]+$ ]]; then echo "$n"; fi
    done
}

do_down() {
    need_tools
    local n rc=0
    for n in $(our_namespaces); do
        if ! ip netns delete "$n" 2>/dev/null && ns_exists "$n"; then
            echo "netns-hosts: could not delete namespace $n" >&2
            rc=1
        fi
    done
    return $rc
}

do_up() {
    local n="" delay=""
    while [ $# -gt 0 ]; do
        case "$1" in
        --delay-ms)
            [ $# -ge 2 ] || usage_error "--delay-ms needs a value"
            delay="$2"
            shift 2
            ;;
        *)
            [ -z "$n" ] || usage_error "unexpected argument '$1'"
            n="$1"
            shift
            ;;
        esac
    done
    [ -n "$n" ] || usage_error "up needs the number of hosts"
    is_uint "$n" && [ "$n" -ge 1 ] && [ "$n" -le $MAX_HOSTS ] || usage_error "bad host count '$n' (1..$MAX_HOSTS)"
    [ -z "$delay" ] || is_uint "$delay" || usage_error "bad --delay-ms '$delay' (whole milliseconds)"
    need_tools
    [ -z "$delay" ] || command -v tc >/dev/null 2>&1 || die "'tc' (iproute2) not found in PATH, needed for --delay-ms"
    [ -z "$(our_namespaces)" ] || die "namespaces with prefix '$prefix' already exist; run 'down' first"

    # Anything failing from here on: undo, then report the failing step.
    step=""
    trap 'rc=$?; if [ $rc -ne 0 ]; then do_down || true; echo "netns-hosts: up failed at: $step" >&2; exit 1; fi' EXIT
    step="ip netns add $bridge_ns"
    ip netns add "$bridge_ns"
    step="bridge in $bridge_ns"
    ip -n "$bridge_ns" link set lo up
    ip -n "$bridge_ns" link add br0 type bridge
    ip -n "$bridge_ns" link set br0 up
    local k ns
    for ((k = 0; k < n; k++)); do
        ns="$(host_ns "$k")"
        step="ip netns add $ns"
        ip netns add "$ns"
        step="veth v$k <-> $ns/eth0"
        ip -n "$bridge_ns" link add "v$k" type veth peer name eth0 netns "$ns"
        ip -n "$bridge_ns" link set "v$k" master br0
        ip -n "$bridge_ns" link set "v$k" up
        step="addresses in $ns"
        ip -n "$ns" link set lo up
        ip -n "$ns" addr add "$(host_addr "$k")/24" dev eth0
        ip -n "$ns" link set eth0 up
        if [ -n "$delay" ] && [ "$delay" -gt 0 ]; then
            step="tc netem delay ${delay}ms in $ns (is sch_netem available?)"
            tc -n "$ns" qdisc add dev eth0 root netem delay "${delay}ms"
        fi
    done
    trap - EXIT
}

case "$cmd" in
up) do_up "$@" ;;
down)
    [ $# -eq 0 ] || usage_error "down takes no arguments"
    do_down
    ;;
addr | ns)
    [ $# -eq 1 ] && is_uint "$1" || usage_error "$cmd needs a host index"
    if [ "$cmd" = addr ]; then host_addr "$1"; else host_ns "$1"; fi
    ;;
exec)
    [ $# -ge 2 ] && is_uint "$1" || usage_error "exec needs a host index and a command"
    need_tools
    ns="$(host_ns "$1")"
    shift
    ns_exists "$ns" || die "no namespace $ns (run 'up' first)"
    exec ip netns exec "$ns" "$@"
    ;;
*) usage_error "unknown command '$cmd'" ;;
esac
