#!/usr/bin/env bash
# cluster_fill.sh CASE : an exec placed on host 1 of 2 (`--local-hosts 2
# --netns --place-exec round-robin`) gets its image and shared libraries
# from its own host's files, not page by page from the origin
# (docs/dsm-protocol.md "Fillers"), and is byte for byte a native run.
#   python    `python3 -c ...` placed on host 1: its node fills >= 500 pages
#             from files (`node_pages_filled` in --json) and receives at
#             least 400 pages fewer than the same run with every file
#             refused (SPANVM_FILL_REFUSE=/: the origin's data, as before),
#             which fills none; both outputs equal native
#   remap     a placed python3 maps a 2 MB file privately, reads and writes
#             it, unmaps it and maps anonymous memory there, 8 times: the
#             file's bytes, the private write and the zeros after it are
#             native's (a filler reset on munmap, and a re-map over pages
#             some node had, which the origin writes)
#   mismatch  the node refuses python3's own file only (the test knob
#             stands in for a different file at the same path): its image
#             falls back to the origin's data, the libraries are still
#             filled, and the output equals native
. "$(dirname "$0")/lib.sh"
[ $# -eq 1 ] || fail "usage: $0 python|remap|mismatch"
skip_in_native_mode "multi-host runs"
need_netns
it_setup
py="$(tool python3)"
script='import json, hashlib; print(json.dumps(sorted(hashlib.sha256(str(i).encode()).hexdigest()[:8] for i in range(300))[:5]))'
# round-robin: the shell stays at the origin, /bin/true goes to host 0, python3 to host 1.
cmd=("$(tool sh)" -c "$(tool true); $py -c '$script'; $(tool true)")
opts=(--local-hosts 2 --netns --place round-robin --place-exec round-robin)
rc_of run_direct "${cmd[@]}" >native.out 2>native.err
expect_rc "$RC" 0 "native run" native.err
# counts FILE: "fetched filled" of the python3 process.
counts() {
    node1_fields "$1" python3 node_pages_fetched node_pages_filled
}
case "$1" in
python)
    rc_of run_guest "${opts[@]}" --json fill.json -- "${cmd[@]}" >fill.out 2>fill.err
    expect_rc "$RC" 0 "placed python3, files filled" fill.err
    expect_same_file fill.out native.out "placed python3 output (filled)"
    rc_of env SPANVM_FILL_REFUSE=/ "$SPANVM" run "${opts[@]}" --json refused.json -- "${cmd[@]}" >refused.out 2>refused.err
    expect_rc "$RC" 0 "placed python3, every file refused" refused.err
    expect_same_file refused.out native.out "placed python3 output (refused)"
    read -r f_fetched f_filled <<<"$(counts fill.json)"
    read -r r_fetched r_filled <<<"$(counts refused.json)"
    it_log "filled: $f_fetched fetched, $f_filled filled; refused: $r_fetched fetched, $r_filled filled"
    [ "$r_filled" = 0 ] || fail "every file refused, yet the node filled $r_filled pages"
    [ "$f_filled" -ge 500 ] || fail "the node filled only $f_filled pages from files"
    [ $((f_fetched + 400)) -le "$r_fetched" ] ||
        fail "filling saved too few transfers: $f_fetched pages fetched, $r_fetched with every file refused"
    pass "placed python3: $f_fetched pages fetched + $f_filled filled (every file refused: $r_fetched fetched)"
    ;;
remap)
    python3 -c 'import random; random.seed(14); open("data.bin", "wb").write(random.randbytes(2 << 20))'
    cat >remap.py <<'PY'
import hashlib, mmap, sys
with open(sys.argv[1], "rb") as f:
    size = len(f.read())
    for i in range(8):
        m = mmap.mmap(f.fileno(), size, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ | mmap.PROT_WRITE)
        before = hashlib.sha256(m[:]).hexdigest()[:16]
        m[i * 4096] = (m[i * 4096] + 1) % 256
        after = hashlib.sha256(m[:]).hexdigest()[:16]
        m.close()
        a = mmap.mmap(-1, size)
        print(i, before, after, a[:] == bytes(size))
        a.close()
PY
    cmd=("$(tool sh)" -c "$(tool true); $py remap.py data.bin; $(tool true)")
    rc_of run_direct "${cmd[@]}" >native.out 2>native.err
    expect_rc "$RC" 0 "native run" native.err
    rc_of run_guest "${opts[@]}" --json remap.json -- "${cmd[@]}" >remap.out 2>remap.err
    expect_rc "$RC" 0 "placed python3 re-mapping a file" remap.err
    expect_same_file remap.out native.out "placed python3 re-mapping a file"
    read -r fetched filled <<<"$(counts remap.json)"
    [ "$filled" -ge 500 ] || fail "the node filled only $filled pages from files"
    pass "placed python3 re-mapping a file 8 times: output equal ($fetched pages fetched, $filled filled)"
    ;;
mismatch)
    rc_of env SPANVM_FILL_REFUSE=python3 "$SPANVM" run "${opts[@]}" --json mm.json -- "${cmd[@]}" >mm.out 2>mm.err
    expect_rc "$RC" 0 "placed python3, its own file refused" mm.err
    expect_same_file mm.out native.out "placed python3 output (python3's file refused)"
    read -r fetched filled <<<"$(counts mm.json)"
    [ "$filled" -ge 100 ] || fail "the libraries were not filled ($filled pages)"
    pass "placed python3 with its own file refused: $fetched pages fetched, $filled filled, output equal"
    ;;
*) fail "unknown case '$1'" ;;
esac
