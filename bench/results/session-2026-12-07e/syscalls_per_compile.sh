#!/bin/bash
# syscalls_per_compile.sh OLD_SPANVM NEW_SPANVM : host system calls per
# `gcc -c` of one generated file (the gcc driver, cc1, as and the shell's
# fork), under each binary and natively: strace -f -c of a shell loop of 1
# and of 5 compiles, the difference divided by 4 (start-up cancels out).
# Counts do not depend on the machine's speed or load.
set -euo pipefail
OLD=$1 NEW=$2
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
"$REPO/tests/integration/gen_c_project.sh" "$W/proj" 4 >/dev/null
cat >"$W/loop.sh" <<'EOS'
#!/bin/sh
i=0; while [ $i -lt $1 ]; do gcc -c -o "$2/x.o" "$2/f1.c"; i=$((i+1)); done
EOS
chmod +x "$W/loop.sh"
for who in old new native; do
  for n in 1 5; do
    case $who in
      old) strace -f -c -o "$W/$who$n" "$OLD" run --platform native -- "$W/loop.sh" $n "$W/proj" >/dev/null 2>&1 ;;
      new) strace -f -c -o "$W/$who$n" "$NEW" run --platform native -- "$W/loop.sh" $n "$W/proj" >/dev/null 2>&1 ;;
      native) strace -f -c -o "$W/$who$n" "$W/loop.sh" $n "$W/proj" >/dev/null 2>&1 ;;
    esac
  done
done
python3 - "$W" <<'EOP'
import sys
W = sys.argv[1]
def load(f):
    d = {}
    for l in open(f):
        p = l.split()
        if len(p) >= 5 and p[0][0].isdigit() and p[-1] != 'total':
            d[p[-1]] = int(p[3])
    return d
per = {}
for who in ("old", "new", "native"):
    a, b = load(f"{W}/{who}1"), load(f"{W}/{who}5")
    per[who] = {k: (b.get(k, 0) - a.get(k, 0)) / 4 for k in set(a) | set(b)}
keys = sorted(set().union(*per.values()), key=lambda k: -(per["old"].get(k, 0) - per["native"].get(k, 0)))
print(f"{'per compile':18s} {'old':>8s} {'new':>8s} {'native':>8s}")
for k in keys[:14]:
    print(f"{k:18s} {per['old'].get(k, 0):8.1f} {per['new'].get(k, 0):8.1f} {per['native'].get(k, 0):8.1f}")
print(f"{'all':18s} {sum(per['old'].values()):8.1f} {sum(per['new'].values()):8.1f} {sum(per['native'].values()):8.1f}")
EOP
