#!/usr/bin/env bash
# stock_processes.sh CASE : stock programs that start programs, output byte
# for byte equal to a native run:
#   pipeline  sh -c 'seq 1 200000 | sort -n | uniq -c | wc -l'
#   bash      bash running a script with command substitution and a background job
#   xargs     xargs -P 4
#   python    python3 -c with subprocess.run and multiprocessing.Pool(4)
#   make      make -j4 of a generated 64-file C project, whose binary then runs
. "$(dirname "$0")/lib.sh"
[ $# = 1 ] || fail "usage: $0 pipeline|bash|xargs|python|make"
it_setup
case "$1" in
pipeline) cmd=("$(tool sh)" -c 'seq 1 200000 | sort -n | uniq -c | wc -l') ;;
bash)
    cat >script.sh <<'EOS'
x=$(echo hello | tr a-z A-Z)
echo "sub: $x $(seq 1 5 | wc -l)"
(sleep 0.2; echo "background done") &
bg=$!
for i in 1 2 3; do echo "foreground $i"; done
wait "$bg"
echo "background status $?"
trap 'echo trapped USR1' USR1
kill -USR1 $$
( exit 3 ); echo "subshell status $?"
EOS
    cmd=("$(tool bash)" script.sh) ;;
xargs)
    seq 1 200 >in.txt
    cmd=("$(tool sh)" -c "$(tool xargs) -P 4 -n 7 echo <in.txt | sort -n") ;;
python)
    py=/usr/bin/python3
    [ -x "$py" ] || py="$(tool python3)"
    cmd=("$py" -c '
import subprocess, multiprocessing
def sq(x): return x * x
if __name__ == "__main__":
    r = subprocess.run(["echo", "hi"], capture_output=True, text=True)
    print(r.returncode, r.stdout.strip())
    print(subprocess.run("exit 3", shell=True).returncode)
    with multiprocessing.Pool(4) as p:
        print(sum(p.map(sq, range(1000))))
') ;;
make)
    "$(dirname "$0")/gen_c_project.sh" proj 64
    cp -r proj proj_native
    rc_of run_direct "$(tool make)" -s -C proj_native -j4 >/dev/null 2>make_native.err
    expect_rc "$RC" 0 "native make -j4" make_native.err
    rc_of run_guest -- "$(tool make)" -s -C proj -j4 >make.out 2>make.err
    expect_rc "$RC" 0 "$(mode_name) make -j4" make.err
    proj_native/prog >native.out
    rc_of proj/prog >guest.out
    expect_rc "$RC" 0 "the binary built by $(mode_name) make"
    expect_same_file guest.out native.out "output of the built binary"
    rc_of run_guest -- proj/prog >guest2.out 2>err
    expect_rc "$RC" 0 "the built binary under $(mode_name)" err
    expect_same_file guest2.out native.out "output of the built binary under $(mode_name)"
    pass "$(mode_name)"
    ;;
*) fail "unknown case '$1'" ;;
esac
expect_native_output "$1 output" "${cmd[@]}"
pass "$(mode_name)"
