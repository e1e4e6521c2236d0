#!/usr/bin/env bash
# stock_coreutils.sh : /bin/echo output byte for byte, /bin/true and
# /bin/false exit statuses, and stdin passthrough via /bin/cat.
. "$(dirname "$0")/lib.sh"
it_setup
rc_of run_direct /bin/echo hello world >native.out
rc_of run_guest -- /bin/echo hello world >guest.out 2>guest.err
expect_rc "$RC" 0 "/bin/echo" guest.err
expect_same_file guest.out native.out "/bin/echo output"
printf 'hello world\n' >want.out
expect_same_file guest.out want.out "/bin/echo output"

rc_of run_guest -- /bin/true >out 2>err
expect_rc "$RC" 0 "/bin/true" err
rc_of run_guest -- /bin/false >out 2>err
expect_rc "$RC" 1 "/bin/false" err

seq 1 50000 >in.txt
rc_of run_guest -- /bin/cat <in.txt >cat.out 2>err
expect_rc "$RC" 0 "/bin/cat" err
expect_same_file cat.out in.txt "/bin/cat stdin -> stdout"
rc_of run_guest -- /bin/ls /nonexistent-spanvm-dir >out 2>err
expect_rc "$RC" 2 "/bin/ls of a missing path" err
expect_grep 'nonexistent-spanvm-dir' err "/bin/ls stderr passthrough"
pass "$(mode_name)"
