# Shared helpers for the spanvm integration tests. Source it first thing:
#   . "$(dirname "$0")/lib.sh"
#
# Environment:
#   SPANVM         path of the spanvm binary (CMake passes $<TARGET_FILE:spanvm>)
#   SPANVM_NATIVE  1 = run every program directly instead of under spanvm, to
#                  validate the tests themselves; spanvm-only checks are skipped
#                  (exit 77, reported by ctest as "Skipped") with a message
#   SPANVM_PLATFORM  kvm or native (ctest sets it per copy); a copy whose platform
#                  cannot run here is skipped (exit 77) with the reason
#   GP_DIR         folder holding the gp_<name>_<static|dynamic> guest programs
#   IT_TIMEOUT     seconds one program may run before it counts as a hang (300)
#
# Every test gets its own fresh temporary directory as its working directory
# (removed on exit), so tests are independent and safe to run in parallel.
# Assertion helpers exit the test with status 1 and one "FAIL [...]" line.

set -euo pipefail

IT_NAME="$(basename "$0" .sh)${*:+ $*}"
SPANVM_NATIVE="${SPANVM_NATIVE:-0}"
IT_TIMEOUT="${IT_TIMEOUT:-300}"
exec 3>&2 # the test's own stderr, even while a program's stderr is redirected

it_log() { echo "[$IT_NAME] $*" >&3; }
fail() {
    echo "FAIL [$IT_NAME]: $*" >&3
    exit 1
}
pass() {
    echo "PASS [$IT_NAME]${1:+: $*}" >&3
    exit 0
}
is_native() { [ "$SPANVM_NATIVE" = 1 ]; }
mode_name() { if is_native; then echo native; else echo spanvm; fi; }

# Spanvm-only checks (error reporting of the VMM itself) cannot run natively.
skip_in_native_mode() {
    if is_native; then
        echo "SKIP [$IT_NAME]: SPANVM_NATIVE=1: $* (only meaningful under spanvm)" >&3
        exit 77
    fi
}

# need_netns : skips the test unless it may make network namespaces (root)
# and fails if iproute2 is missing (install-deps.sh installs it).
need_netns() {
    [ "$(id -u)" = 0 ] || { echo "SKIP [$IT_NAME]: network namespaces need root" >&3; exit 77; }
    command -v ip >/dev/null || fail "ip (iproute2) is not installed"
}

# native_ok NAME PROG ARGS... : PROG ARGS run directly, the reference the
# placed runs (run_placed) compare with: fails unless it exits 0 and
# prints "NAME: ok"; its output is native.out.
native_ok() {
    local name=$1
    shift
    rc_of run_direct "$@" >native.out 2>native.err
    expect_rc "$RC" 0 "native run" native.err
    expect_grep "^$name: ok\$" native.out "native output"
}

# run_placed TAG WHAT CMD FIELD... : the shell command line CMD as the exec
# placed on host 1 of 2 (`--place-exec round-robin`: the shell stays at the
# origin, /usr/bin/true goes to host 0, CMD's program to host 1), --json in
# TAG.json; fails unless it exits 0 and prints native.out. Prints FIELDs of
# CMD's program's process (node1_fields). WHAT names the run in failures.
run_placed() {
    local tag=$1 what=$2 cmd=$3
    shift 3
    rc_of run_guest --local-hosts 2 --place-exec round-robin --json "$tag.json" -- \
        "$(tool sh)" -c "/usr/bin/true; $cmd" >"$tag.out" 2>"$tag.err"
    expect_rc "$RC" 0 "placed run ($what)" "$tag.err"
    expect_same_file "$tag.out" native.out "placed output ($what)"
    node1_fields "$tag.json" "$(basename "${cmd%% *}")" "$@"
}

# node1_fields [--all] FILE PROGRAM FIELD... : from `spanvm run --json` FILE,
# the FIELDs of the first process whose program starts with PROGRAM, on one
# line; fails unless that process ran on node 1. With --all: one line for
# each process of PROGRAM on node 1 (at least one).
node1_fields() {
    local all=0
    [ "$1" = --all ] && { all=1; shift; }
    python3 - "$all" "$@" <<'PY' || fail "no $2 process on node 1 in $1:"$'\n'"$(show "$1")"
import json, sys
all_, path, prog, fields = sys.argv[1] == "1", sys.argv[2], sys.argv[3], sys.argv[4:]
ps = [p for p in json.load(open(path)).get("processes", []) if p["program"].startswith(prog)]
if all_:
    ps = [p for p in ps if p["node"] == 1]
    assert ps, ps
else:
    assert ps and ps[0]["node"] == 1, ps
    ps = ps[:1]
for p in ps:
    print(*(p[f] for f in fields))
PY
}

# hosts_option [HOSTS] : for the stock tests. Sets `opts` (spanvm run options)
# and `n` (threads): one host and 2 threads, or HOSTS hosts on this machine
# (--local-hosts) and 4 threads (skipped in SPANVM_NATIVE=1 mode).
hosts_option() {
    opts=()
    n=2
    if [ -n "${1:-}" ]; then
        skip_in_native_mode "multi-host runs"
        opts=(--local-hosts "$1")
        n=4
    fi
}

# Prints a file for a failure message: at most 20 lines / 2000 bytes.
show() {
    if [ -s "$1" ]; then head -c 2000 "$1" | head -n 20 | sed 's/^/    | /'; else echo "    | (empty)"; fi
}

it_setup() {
    IT_TMP="$(mktemp -d "${TMPDIR:-/tmp}/spanvm-it.XXXXXX")"
    trap 'cd /; rm -rf "$IT_TMP"' EXIT
    cd "$IT_TMP"
    ulimit -c 0 # fault tests must not litter core files
    if ! is_native; then
        [ -n "${SPANVM:-}" ] || fail "SPANVM is not set (ctest sets it; or use SPANVM_NATIVE=1)"
        [ -x "$SPANVM" ] || fail "spanvm binary '$SPANVM' is missing or not executable (build it, or set SPANVM_NATIVE=1)"
        if [ -n "${SPANVM_PLATFORM:-}" ] && ! "$SPANVM" info --require "$SPANVM_PLATFORM" >/dev/null 2>&1; then
            local why
            why="$("$SPANVM" info 2>/dev/null | grep "^platform $SPANVM_PLATFORM:" || true)"
            echo "SKIP [$IT_NAME]: the $SPANVM_PLATFORM platform cannot run on this host: ${why:-unknown}" >&3
            exit 77
        fi
    fi
}

# gp NAME KIND -> path of a guest program, which must exist.
gp() {
    : "${GP_DIR:?GP_DIR is not set (ctest sets it)}"
    local p="$GP_DIR/gp_$1_$2"
    [ -x "$p" ] || fail "guest program $p is not built (cmake --build build --target guest_programs)"
    echo "$p"
}

# tool NAME -> absolute path of a host program, which must be installed.
tool() {
    local p
    p="$(command -v "$1")" || fail "$1 is not installed (run scripts/install-deps.sh)"
    echo "$p"
}

# rc_of CMD... : runs CMD with errexit off and stores its exit status in RC.
rc_of() {
    RC=0
    "$@" || RC=$?
}

# Fails the test if a timeout-wrapped command was stopped by its timeout.
check_not_hung() {
    local rc=$1 secs=$2
    shift 2
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        fail "hang: '$*' did not finish within ${secs}s (status $rc)"
    fi
}

# run_direct [-t SECS] PROG ARGS... : runs PROG natively with a timeout.
# stdin/stdout/stderr are the caller's. Returns PROG's status.
run_direct() {
    local secs=$IT_TIMEOUT
    if [ "${1:-}" = -t ]; then secs=$2; shift 2; fi
    local rc=0
    timeout -k 5 "$secs" "$@" || rc=$?
    check_not_hung "$rc" "$secs" "$@"
    return "$rc"
}

# run_guest [-t SECS] [SPANVM-RUN-OPTIONS...] -- PROG ARGS... : runs PROG under
# `spanvm run OPTIONS -- PROG ARGS` (or directly, ignoring OPTIONS, in native
# mode) with a timeout. Returns the exit status; a timeout fails the test.
run_guest() {
    local secs=$IT_TIMEOUT
    if [ "${1:-}" = -t ]; then secs=$2; shift 2; fi
    local opts=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
    [ "${1:-}" = -- ] || fail "run_guest: missing -- before the program"
    shift
    local rc=0
    if is_native; then
        timeout -k 5 "$secs" "$@" || rc=$?
    else
        timeout -k 5 "$secs" "$SPANVM" run "${opts[@]}" -- "$@" || rc=$?
    fi
    check_not_hung "$rc" "$secs" "$@"
    return "$rc"
}

# run_spanvm [-t SECS] ARGS... : runs the spanvm binary itself with raw ARGS
# (for usage/error tests). Returns its status; a timeout fails the test.
run_spanvm() {
    local secs=$IT_TIMEOUT
    if [ "${1:-}" = -t ]; then secs=$2; shift 2; fi
    local rc=0
    timeout -k 5 "$secs" "$SPANVM" "$@" || rc=$?
    check_not_hung "$rc" "$secs" spanvm "$@"
    return "$rc"
}

# expect_rc GOT WANT WHAT [STDERR-FILE]
expect_rc() {
    if [ "$1" != "$2" ]; then
        local msg="$3: exit status $1, expected $2"
        if [ -n "${4:-}" ]; then msg="$msg; stderr:"$'\n'"$(show "$4")"; fi
        fail "$msg"
    fi
}

# expect_same_file GOT WANT WHAT : byte-for-byte comparison.
# expect_native_output WHAT CMD... : runs CMD natively and then under the test's
# mode (run_guest), requires exit status 0 from both and the same stdout
# (native.out, guest.out; stderr in native.err, guest.err).
expect_native_output() {
    local what=$1
    shift
    rc_of run_direct "$@" >native.out 2>native.err
    expect_rc "$RC" 0 "native run" native.err
    rc_of run_guest -- "$@" >guest.out 2>guest.err
    expect_rc "$RC" 0 "$(mode_name) run" guest.err
    expect_same_file guest.out native.out "$what"
}

expect_same_file() {
    if ! cmp -s "$1" "$2"; then
        fail "$3: $1 ($(wc -c <"$1") bytes) differs from $2 ($(wc -c <"$2") bytes): $(cmp "$1" "$2" 2>&1 | head -1)"
    fi
}

# expect_grep ERE FILE WHAT : FILE has a line matching ERE (case-insensitive).
expect_grep() {
    grep -Eqi -- "$1" "$2" || fail "$3: no line matching /$1/ in:"$'\n'"$(show "$2")"
}

# line_count FILE : number of lines, counting an unterminated last line.
line_count() { awk 'END { print NR }' "$1"; }

# expect_one_spanvm_line FILE WHAT : FILE is exactly one line starting "spanvm: ".
expect_one_spanvm_line() {
    local n
    n="$(line_count "$1")"
    [ "$n" = 1 ] || fail "$2: expected exactly one stderr line, got $n:"$'\n'"$(show "$1")"
    grep -q '^spanvm: ' "$1" || fail "$2: stderr line does not start with 'spanvm: ':"$'\n'"$(show "$1")"
}

# gen_text BYTES SEED > FILE : deterministic, compressible pseudo-random text
# (words from a small vocabulary, numbers, punctuation). Same BYTES and SEED
# give the same bytes on every run with the same awk.
gen_text() {
    awk -v want="$1" -v seed="$2" 'BEGIN {
        n = split("spanvm guest vcpu page fault futex thread kernel memory coherent " \
                  "the of and to in is that for on with as by at from this be " \
                  "lorem ipsum dolor sit amet consectetur adipiscing elit sed do " \
                  "eiusmod tempor incididunt ut labore et dolore magna aliqua", w, " ")
        srand(seed); total = 0
        while (total < want) {
            line = ""; k = 6 + int(rand() * 10)
            for (i = 0; i < k; i++) {
                r = rand()
                if (r < 0.08) word = int(rand() * 100000)
                else word = w[1 + int(rand() * n)]
                line = line (i ? " " : "") word
            }
            line = line (rand() < 0.3 ? "." : ",") "\n"
            if (total + length(line) > want) line = substr(line, 1, want - total)
            printf "%s", line; total += length(line)
        }
    }'
}
