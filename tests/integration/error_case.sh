#!/usr/bin/env bash
# error_case.sh CASE : spanvm rejects bad input with one clear line on stderr
# starting "spanvm: ", the documented exit status (README: 2 usage error,
# 125 spanvm itself failed, 126 program cannot be executed, 127 program or
# interpreter not found), and within 60 s (a hang is a failure). Cases:
#   missing_file    program path does not exist      -> mentions the path
#   not_elf         shell script / text / empty file -> "not an ELF"
#   truncated_elf   first 40 bytes of an ELF         -> one "spanvm:" line
#   wrong_arch      /bin/true with e_machine=AArch64 -> mentions x86-64
#   missing_interp  PT_INTERP patched to a missing path -> mentions that path
#   usage           bad command lines                -> one "spanvm:" line
#   mem_exhaustion  memory hog under --mem 64M       -> a "spanvm:" line about
#                   memory (natively: the hog under `ulimit -v` exits 3)
. "$(dirname "$0")/lib.sh"
[ $# = 1 ] || fail "usage: $0 CASE"
it_setup
LIMIT=60

# spanvm_rejects WHAT STATUS ARGS... : runs spanvm ARGS, expects a clean
# one-line rejection with exit status STATUS. Leaves stderr in err.
spanvm_rejects() {
    local what=$1 want=$2
    shift 2
    rc_of run_spanvm -t "$LIMIT" "$@" >out 2>err </dev/null
    if [ "$RC" != "$want" ]; then
        fail "$what: exit status $RC, expected $want; stderr:"$'\n'"$(show err)"
    fi
    expect_one_spanvm_line err "$what"
}

case "$1" in
missing_file)
    skip_in_native_mode "missing program file"
    missing="$IT_TMP/no/such/program"
    spanvm_rejects "missing file" 127 run -- "$missing"
    grep -qF -- "$missing" err || fail "message does not name $missing:"$'\n'"$(show err)"
    ;;
not_elf)
    skip_in_native_mode "non-ELF program"
    # (#! scripts are programs: they run under their interpreter, see
    # exec_cases.sh; a #! line naming nothing is rejected.)
    printf 'just some text, long enough to be more than an ELF header........\n' >text.txt
    : >empty
    printf '#!   \necho no interpreter named\n' >noint.sh
    chmod +x text.txt empty noint.sh
    for f in text.txt empty; do
        spanvm_rejects "non-ELF $f" 126 run -- "$IT_TMP/$f"
        expect_grep 'not an ELF' err "non-ELF $f"
    done
    spanvm_rejects "#! line without an interpreter" 126 run -- "$IT_TMP/noint.sh"
    expect_grep 'names no interpreter' err "#! without interpreter"
    spanvm_rejects "directory as program" 126 run -- "$IT_TMP"
    ;;
truncated_elf)
    skip_in_native_mode "truncated ELF"
    head -c 40 /bin/true >trunc
    head -c 300 /bin/true >trunc300 # header ok, program headers cut off
    chmod +x trunc trunc300
    spanvm_rejects "truncated ELF (40 bytes)" 126 run -- "$IT_TMP/trunc"
    spanvm_rejects "truncated ELF (300 bytes)" 126 run -- "$IT_TMP/trunc300"
    ;;
wrong_arch)
    skip_in_native_mode "non-x86-64 ELF"
    cp /bin/true aarch64
    # e_machine (offset 18, little-endian u16) = 183 (EM_AARCH64).
    printf '\267\000' | dd of=aarch64 bs=1 seek=18 conv=notrunc status=none
    [ "$(od -An -tu2 -j18 -N2 aarch64 | tr -d ' ')" = 183 ] || fail "could not patch e_machine"
    spanvm_rejects "AArch64 ELF" 126 run -- "$IT_TMP/aarch64"
    expect_grep 'x86[-_]64' err "AArch64 ELF"
    ;;
missing_interp)
    skip_in_native_mode "missing ELF interpreter"
    interp="$(python3 "$(dirname "$0")/patch_interp.py" /bin/true badinterp)" || fail "could not patch PT_INTERP"
    chmod +x badinterp
    spanvm_rejects "missing interpreter" 127 run -- "$IT_TMP/badinterp"
    grep -qF -- "$interp" err || fail "message does not name the interpreter $interp:"$'\n'"$(show err)"
    ;;
usage)
    skip_in_native_mode "spanvm command-line errors"
    spanvm_rejects "no arguments" 2
    spanvm_rejects "unknown subcommand" 2 no-such-subcommand
    spanvm_rejects "run without a program" 2 run
    spanvm_rejects "run with an unknown option" 2 run --no-such-option -- /bin/true
    spanvm_rejects "run with a bad --mem" 2 run --mem lots -- /bin/true
    spanvm_rejects "run with a bad --vcpus" 2 run --vcpus many -- /bin/true
    spanvm_rejects "run with --host-cpus 0" 2 run --host-cpus 0 -- /bin/true
    spanvm_rejects "run with a non-number --host-cpus" 2 run --host-cpus some -- /bin/true
    spanvm_rejects "run with --host-cpus beyond the CPUs" 2 run --local-hosts 2 --host-cpus 1024 -- /bin/true
    ;;
mem_exhaustion)
    # A cap of 512 MiB stops the hog if --mem is not enforced at all.
    hog="$(gp mem_hog static)"
    if is_native; then
        # Native stand-in: the address-space limit makes malloc fail.
        rc_of run_direct -t "$LIMIT" bash -c 'ulimit -v 262144; exec "$0" 512' "$hog" >out 2>err
        expect_rc "$RC" 3 "memory hog under ulimit -v" err
        expect_grep '^out of memory after [0-9]+ MiB$' out "memory hog output"
        pass "native (ulimit -v stand-in for --mem): $(cat out)"
    fi
    rc_of run_guest -t "$LIMIT" --mem 64M -- "$hog" 512 >out 2>err
    if grep -q '^cap reached' out; then fail "--mem 64M not enforced: $(cat out)"; fi
    if [ "$RC" = 0 ] || [ "$RC" -gt 125 ]; then
        fail "memory exhaustion: exit status $RC, expected a clean non-zero status; stderr:"$'\n'"$(show err)"
    fi
    n="$(grep -c '^spanvm: ' err || true)"
    [ "$n" = 1 ] || fail "expected exactly one 'spanvm:' line on stderr, got $n:"$'\n'"$(show err)"
    expect_grep '^spanvm: .*mem' err "memory exhaustion report"
    # If the guest saw ENOMEM itself, it cannot have had more than 64 MiB.
    mib="$(sed -n 's/^out of memory after \([0-9]*\) MiB$/\1/p' out)"
    if [ -n "$mib" ] && [ "$mib" -gt 64 ]; then fail "guest allocated $mib MiB under --mem 64M"; fi
    ;;
*) fail "unknown case $1" ;;
esac
pass "$(mode_name)"
