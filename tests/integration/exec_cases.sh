#!/usr/bin/env bash
# exec_cases.sh CASE : how spanvm starts programs, compared with a native run.
#   path_lookup     PROGRAM without a slash is found in $PATH (like execvp)
#   shebang         a #! script runs under its interpreter with Linux's argv
#                   (interp [one arg] script args), also two levels deep
#   execve          bash -c 'exec PROG' and env(1) replace the image in place;
#                   /proc/PID/comm names the program, as after Linux's execve
#   python_threads  /usr/bin/python3 with two threads hashing, output equals native
#   vcpus           --vcpus N is the CPU count the guest sees (nproc reads
#                   sched_getaffinity; python3 reads /sys/.../cpu/online too)
. "$(dirname "$0")/lib.sh"
[ $# = 1 ] || fail "usage: $0 CASE"
it_setup

# same_as_native WHAT PROG ARGS... : stdout and status equal a native run.
same_as_native() {
    local what=$1
    shift
    rc_of run_direct "$@" >native.out 2>native.err
    local native_rc=$RC
    rc_of run_guest -- "$@" >guest.out 2>guest.err
    expect_rc "$RC" "$native_rc" "$(mode_name) $what" guest.err
    expect_same_file guest.out native.out "$what stdout"
}

case "$1" in
path_lookup)
    same_as_native "echo via PATH" echo found in path
    same_as_native "sort via PATH" sort -r /etc/hostname
    ;;
shebang)
    printf '#!/bin/sh\nprintf "%%s|" "$0" "$@"; echo\n' >s1.sh
    printf '#!%s/s1.sh  one arg \n' "$IT_TMP" >s2.sh
    chmod +x s1.sh s2.sh
    same_as_native "#! script" "$IT_TMP/s1.sh" a 'b c'
    same_as_native "#! script whose interpreter is a script" "$IT_TMP/s2.sh" x
    printf '#!/bin/sh\ncat /proc/$$/comm\n' >s3.sh
    chmod +x s3.sh
    same_as_native "a #! script's task name is its own" "$IT_TMP/s3.sh"
    ;;
execve)
    same_as_native "bash -c exec" /bin/bash -c 'exec /bin/echo replaced "$0"' arg0
    same_as_native "env runs its command" /usr/bin/env FOO=bar /bin/sh -c 'echo $FOO'
    same_as_native "exec of a missing program" /bin/bash -c 'exec /no/such/program'
    same_as_native "the task name follows execve" /bin/bash -c \
        'cat /proc/self/comm /proc/$$/comm; exec /bin/cat /proc/self/comm'
    ;;
python_threads)
    [ -x /usr/bin/python3 ] || fail "/usr/bin/python3 is missing (scripts/install-deps.sh installs it)"
    same_as_native "python3 threads" /usr/bin/python3 -c '
import threading, hashlib
out = [None, None]
def work(i): out[i] = hashlib.sha256(bytes([i]) * 5_000_000).hexdigest()
ts = [threading.Thread(target=work, args=(i,)) for i in range(2)]
for t in ts: t.start()
for t in ts: t.join()
print(out)'
    ;;
vcpus)
    skip_in_native_mode "--vcpus"
    for n in 1 3 7; do
        rc_of run_guest --vcpus "$n" -- nproc >out 2>err
        expect_rc "$RC" 0 "nproc with --vcpus $n" err
        [ "$(cat out)" = "$n" ] || fail "--vcpus $n: nproc printed '$(cat out)'"
        rc_of run_guest --vcpus "$n" -- /usr/bin/python3 -c 'import os; print(os.cpu_count(), len(os.sched_getaffinity(0)))' >out 2>err
        expect_rc "$RC" 0 "python3 with --vcpus $n" err
        [ "$(cat out)" = "$n $n" ] || fail "--vcpus $n: python3 saw '$(cat out)'"
    done
    ;;
*) fail "unknown case $1" ;;
esac
pass "$(mode_name)"
