#!/usr/bin/env bash
# hosts_abba.sh OLD NEW ROUNDS [PLATFORM]: 2-host make -j2 (16x60) ABBA-interleaved with native make -j1 on CPU 0 and on CPU 1.
set -eu
old=$1 new=$2 rounds=$3 platform=${4:-native}
w=$(mktemp -d); trap 'rm -rf $w' EXIT
/work/main/tests/integration/gen_c_project.sh $w/proj 16 60 >/dev/null
one() { local name=$1; shift; make -s -C $w/proj clean >/dev/null; local t0=$(date +%s.%N); "$@" make -s -C $w/proj >/dev/null 2>&1; local t1=$(date +%s.%N); echo "$name $(echo "$t1 - $t0" | bc)"; }
for r in $(seq $rounds); do
  one native0 taskset -c 0 env MAKEFLAGS=-j1
  one old $old run --platform $platform --local-hosts 2 --host-cpus 1 --place-exec least-loaded -- env MAKEFLAGS=-j2
  one new $new run --platform $platform --local-hosts 2 --host-cpus 1 --place-exec least-loaded -- env MAKEFLAGS=-j2
  one new $new run --platform $platform --local-hosts 2 --host-cpus 1 --place-exec least-loaded -- env MAKEFLAGS=-j2
  one old $old run --platform $platform --local-hosts 2 --host-cpus 1 --place-exec least-loaded -- env MAKEFLAGS=-j2
  one native1 taskset -c 1 env MAKEFLAGS=-j1
done
