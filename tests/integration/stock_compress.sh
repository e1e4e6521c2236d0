#!/usr/bin/env bash
# stock_compress.sh pigz|xz|zstd [HOSTS] : compresses a few MiB of
# deterministic text under spanvm and natively; the compressed bytes must be
# identical, and decompressing (under spanvm) must give back the input. With
# HOSTS, the spanvm runs span HOSTS hosts on this machine (--local-hosts)
# with four threads; otherwise one host and two threads.
. "$(dirname "$0")/lib.sh"
[ $# -ge 1 ] || fail "usage: $0 pigz|xz|zstd [HOSTS]"
hosts_option "${2:-}"
it_setup
case "$1" in
pigz) bin="$(tool pigz)"; comp=(-p $n -c); decomp=(-p $n -d -c) ;;
# A 1 MiB block size makes xz really split the input across the threads.
xz) bin="$(tool xz)"; comp=(-T$n --block-size=1MiB -c); decomp=(-T$n -d -c) ;;
zstd) bin="$(tool zstd)"; comp=(-T$n -q -c); decomp=(-T$n -q -d -c) ;;
*) fail "unknown compressor $1" ;;
esac
gen_text $((6 * 1024 * 1024)) 1234 >input.txt

rc_of run_direct "$bin" "${comp[@]}" <input.txt >native.z 2>native.err
expect_rc "$RC" 0 "native $1 compress" native.err
rc_of run_guest "${opts[@]}" -- "$bin" "${comp[@]}" <input.txt >guest.z 2>guest.err
expect_rc "$RC" 0 "$(mode_name) $1 compress" guest.err
expect_same_file guest.z native.z "$1 compressed output"
[ "$(wc -c <guest.z)" -lt "$(wc -c <input.txt)" ] || fail "$1 did not compress"

rc_of run_guest "${opts[@]}" -- "$bin" "${decomp[@]}" <guest.z >guest.out 2>guest.derr
expect_rc "$RC" 0 "$(mode_name) $1 decompress" guest.derr
expect_same_file guest.out input.txt "$1 round trip"
pass "$(mode_name)${2:+ across $2 hosts}, $(wc -c <input.txt) -> $(wc -c <guest.z) bytes"
