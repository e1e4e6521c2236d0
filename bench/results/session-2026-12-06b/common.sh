# common.sh, sourced by windows.sh and zero_fill.sh with their arguments
# (SPANVM OUTDIR [ROUNDS]; ROUNDS defaults to $default_rounds): sets
# $spanvm, $out, $rounds and $repo, generates the 16-file, 60-function
# project in $w/p (removed at exit), and defines make_row.
set -euo pipefail
spanvm=$(realpath "$1") out=$2 rounds=${3:-$default_rounds}
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
mkdir -p "$out"
w="$(mktemp -d /tmp/session-2026-12-06b.XXXXXX)"
trap 'rm -rf "$w"' EXIT
"$repo/tests/integration/gen_c_project.sh" "$w/p" 16 60 >/dev/null
busy() { awk '/^cpu[01] /{print $2+$3+$4+$7+$8}' /proc/stat | paste -sd' '; }
# make_row CMD... : CMD (a `spanvm run ... -- make -C $w/p -j2`, or a
# function that runs one) on a clean project; prints "wall W s, cpu0 A s,
# cpu1 B s" (each CPU's busy seconds from /proc/stat).
make_row() {
    make -s -C "$w/p" clean
    local a b t0 t1 a0 a1 b0 b1
    a=$(busy); t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    t1=$(date +%s.%N); b=$(busy)
    read -r a0 a1 <<<"$a"; read -r b0 b1 <<<"$b"
    printf 'wall %.2f s, cpu0 %.2f s, cpu1 %.2f s' "$(echo "$t1 - $t0" | bc -l)" \
        "$(echo "($b0 - $a0) / 100" | bc -l)" "$(echo "($b1 - $a1) / 100" | bc -l)"
}
