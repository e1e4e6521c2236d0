# bench/lib/common.sh: the preamble the bench scripts share. A script does
#   . "$(dirname "$0")/../lib/common.sh"
#   bench_init NAME "$@"
# bench_init takes the script's one argument, BUILD_DIR, and sets BUILD,
# HERE (the script's folder), REPO, OUT (BENCH_OUT, else bench/out), SPANVM
# (SPANVM, else BUILD_DIR/spanvm; it must be executable) and REPEAT
# (BENCH_REPEAT, else 3). die prints "bench/NAME: ERROR: ..." and exits 1;
# bench_need fails the same way when a tool is missing. bench_text MIB prints
# MIB MiB of the benches' compressible text (words and numbers, seed 7: the
# same bytes every run).
BENCH_NAME=bench
die() {
    echo "$BENCH_NAME: ERROR: $*" >&2
    exit 1
}
bench_init() {
    BENCH_NAME="bench/$1"
    shift
    [ $# = 1 ] || die "usage: $0 BUILD_DIR"
    BUILD="$(cd "$1" 2>/dev/null && pwd)" || die "build dir '$1' does not exist"
    HERE="$(cd "$(dirname "$0")" && pwd)"
    REPO="$(cd "$HERE/../.." && pwd)"
    OUT="${BENCH_OUT:-$REPO/bench/out}"
    SPANVM="${SPANVM:-$BUILD/spanvm}"
    REPEAT="${BENCH_REPEAT:-3}"
    [ -x "$SPANVM" ] || die "spanvm binary '$SPANVM' not found (build it first)"
}
bench_need() {
    local t
    for t in "$@"; do command -v "$t" >/dev/null || die "$t is not installed (scripts/install-deps.sh)"; done
}
bench_text() {
    awk -v want=$(($1 * 1024 * 1024)) 'BEGIN {
        n = split("spanvm guest vcpu page fault futex thread kernel memory coherent the of and to in lorem ipsum", w, " ")
        srand(7); total = 0
        while (total < want) {
            line = ""; k = 6 + int(rand() * 10)
            for (i = 0; i < k; i++) line = line (i ? " " : "") (rand() < 0.1 ? int(rand() * 100000) : w[1 + int(rand() * n)])
            line = line "\n"; printf "%s", line; total += length(line)
        }
    }'
}
