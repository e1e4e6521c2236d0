#!/usr/bin/env bash
# cluster_heap_cycles.sh KIND : memory a placed image gives back and takes
# again (a brk heap trimmed and grown, a block mmapped and munmapped, as
# malloc does; cc1 did it hundreds of times per compile) reads as zeros each
# time (gp_heap_cycles checks), and costs its node no page moves: the
# deputy's discard asks the pages' home, the node, which drops the pages only
# it holds (docs/dsm-protocol.md "Discards") instead of the deputy fetching
# each page to zero it and the node fetching it back. Placed on host 1 of 2
# with 40 rounds of 2 x 128 pages, the node fetches fewer than 2 pages per
# round more than with 1 round (`node_pages_fetched` in --json; before, about
# 350 per round: 13,532 more for 39 rounds), and fewer than 25 for 1 round.
. "$(dirname "$0")/lib.sh"
[ $# -eq 1 ] || fail "usage: $0 static|dynamic"
skip_in_native_mode "multi-host runs"
it_setup
prog="$(gp heap_cycles "$1")"
native_ok heap_cycles "$prog" 40
# fetched N: the pages host 1 fetched while the placed program ran N rounds.
fetched() { run_placed "placed$1" "$1 rounds" "$prog $1" node_pages_fetched; }
f1="$(fetched 1)"
f40="$(fetched 40)"
it_log "placed: 1 round: $f1 pages fetched; 40 rounds: $f40"
# And the image's start fetches few pages: its deputy's origin does not
# zero-fill ahead around the loader's writes (docs/dsm-protocol.md F4:
# 5 static / 8 dynamic here; 42 / 54 when it did).
[ "$f1" -lt 25 ] || fail "host 1 fetched $f1 pages for 1 round (fewer than 25 expected: does the deputy's origin zero-fill ahead?)"
[ $((f40 - f1)) -lt 78 ] || fail "39 more rounds of 256 pages given back and taken again made host 1 fetch $((f40 - f1)) more pages (fewer than 78 expected)"
pass "native and placed outputs agree; 39 more rounds, $((f40 - f1)) more pages fetched"
