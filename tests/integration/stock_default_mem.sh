#!/usr/bin/env bash
# stock_default_mem.sh : `xz -T16` under spanvm's default guest memory (no
# --mem). xz with 16 threads reserves more address space than it touches
# (about 1.5 GiB of encoder state plus a 128 MiB malloc arena per thread);
# under the old fixed 2 GiB default it failed with ENOMEM while it runs
# natively. A small input cut into 64 KiB blocks keeps all 16 threads busy:
# the test is about the reservation, not speed. The output must equal the
# native run's, byte for byte.
. "$(dirname "$0")/lib.sh"
it_setup
bin="$(tool xz)"
comp=(-T16 --block-size=64KiB -c)
gen_text $((1024 * 1024)) 4321 >input.txt

rc_of run_direct "$bin" "${comp[@]}" <input.txt >native.xz 2>native.err
expect_rc "$RC" 0 "native xz -T16" native.err
rc_of run_guest -- "$bin" "${comp[@]}" <input.txt >guest.xz 2>guest.err
expect_rc "$RC" 0 "$(mode_name) xz -T16 with the default memory" guest.err
expect_same_file guest.xz native.xz "xz -T16 output"
rc_of run_direct "$bin" -d -c <guest.xz >guest.out 2>guest.derr
expect_rc "$RC" 0 "native xz -d of the guest's output" guest.derr
expect_same_file guest.out input.txt "xz -T16 round trip"
pass "$(mode_name), 16 threads, $(wc -c <input.txt) -> $(wc -c <guest.xz) bytes"
