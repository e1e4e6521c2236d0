#!/usr/bin/env bash
# cluster_node_answers.sh CASE : the calls a placed image's node answers
# itself (vmm/cluster/node_answers.hpp; docs/architecture/distributed.md,
# "Calls that stay on the node") give what the deputy would have given.
#   paths   a placed python3 stats, lstats, readlinks and access()es
#           absolute and relative paths (files, directories, missing ones,
#           symlinks, through "..", trailing slashes, /proc/self), opens
#           and fstats them (O_NOFOLLOW, O_DIRECTORY: a walk that fails is
#           answered by the node), reads one at the offset the node
#           tracks, with pread, dup, lseek, fork and a reused fd number
#           (node files), and a
#           placed coreutils `stat` (statx) prints them too, all on host 1
#           of 2 (--netns): the output is byte for byte native's; with
#           SPANVM_NODE_ANSWERS=all the node answers >= 60 of python3's
#           calls itself (`node_syscalls_local` in --json) and forwards that
#           many fewer than with SPANVM_NODE_ANSWERS=off, which answers
#           none of them (same output: /proc/self and symlinked walks are
#           forwarded in both); its getrlimit of every resource gives
#           the same limits in all three modes
#   threads a placed python3 starts and joins 4 threads (set_robust_list,
#           rseq and the clear_child_tid of each thread) and its output is
#           native's, in all three modes, and the thread mode answers
#           more of its calls on the node than off (gettid only)
#   words   gp_thread_words (set_robust_list/get_robust_list, ARCH_SET_FS,
#           and the main thread's set_tid_address word, which its SYS_exit
#           must clear and wake for the other thread to end the process)
#           placed on host 1: native's output in all three modes, and the
#           node answers more of its calls with all than with off
#   knob    SPANVM_NODE_ANSWERS=sometimes is refused with one line, status 2
#   make    a placed `make -j2` of 8 tiny files: every cc1 placed on host 1
#           had its shared-file-system proof pass (>= 60 of its ~78 path
#           calls answered there; a failed proof answers 9), which a probe
#           released when a channel dialled ahead attached, before the node
#           had read it, broke for some (shared_fs.hpp); with -v, no node
#           says its path calls are forwarded
. "$(dirname "$0")/lib.sh"
[ $# -eq 1 ] || fail "usage: $0 paths|threads|words|knob|make"
skip_in_native_mode "multi-host runs"
it_setup
if [ "$1" = knob ]; then
    rc_of env SPANVM_NODE_ANSWERS=sometimes "$SPANVM" run --local-hosts 2 -- "/usr/bin/true" >out 2>err
    expect_rc "$RC" 2 "a bad SPANVM_NODE_ANSWERS" err
    expect_one_spanvm_line err "a bad SPANVM_NODE_ANSWERS"
    expect_grep 'SPANVM_NODE_ANSWERS' err "the error names the knob"
    pass "SPANVM_NODE_ANSWERS=sometimes: $(cat err)"
fi
need_netns
# The interpreter itself (a wrapper script such as a pyenv shim would be the
# placed image instead, and exec it elsewhere).
py="$(tool python3)"
[ -x /usr/bin/python3 ] && py=/usr/bin/python3
# Nothing is written under data/ after this, so its stat results stay put.
mkdir -p data/dir
printf 'hello\n' >data/file
chmod 0640 data/file
ln -s file data/link
ln -s /proc/self data/proc_link
ln -s "$PWD/data/dir" data/abs_link
ln -s missing data/dangling
cat >paths.py <<'PY'
import errno, os, sys
here = os.getcwd()
paths = ["/usr", "/usr/lib", "/usr/include/stdio.h", "/usr/bin/env", "/nonexistent/x", "/usr/include/stdio.h/x",
         "/usr/lib/../include/./stdio.h", "/usr//include/", "data", "data/file", "data/file/", "data/link",
         "data/dir/", "data/../data/file", "data/proc_link", "data/abs_link", "data/dangling", "missing",
         here + "/data/file", here + "/data/link", "/proc/self", "/proc/self/exe", "/dev/fd/0"]
def attempt(f):
    try:
        return f()
    except OSError as e:
        return "E" + errno.errorcode.get(e.errno, str(e.errno))
def st(s):
    return "mode=%o ino=%d dev=%d nlink=%d uid=%d gid=%d size=%d mtime=%d" % (
        s.st_mode, s.st_ino, s.st_dev, s.st_nlink, s.st_uid, s.st_gid, s.st_size, s.st_mtime_ns)
def opened(p, flags):
    fd = os.open(p, flags)
    try:
        return st(os.fstat(fd))
    finally:
        os.close(fd)
for p in paths:
    if p.startswith("/proc") or p.startswith("/dev/fd") or p.endswith("proc_link"):
        # Per process: compare what the answer must mean, not its bytes.
        print(p, attempt(lambda: os.readlink(p)) in (str(os.getpid()), os.path.realpath(sys.executable), "/proc/self"))
        continue
    print(p, "stat", attempt(lambda: st(os.stat(p))))
    print(p, "lstat", attempt(lambda: st(os.lstat(p))))
    print(p, "readlink", attempt(lambda: os.readlink(p)))
    for f, n in ((os.O_RDONLY, "R"), (os.O_RDONLY | os.O_NOFOLLOW, "NOFOLLOW"), (os.O_RDONLY | os.O_DIRECTORY, "DIR")):
        print(p, "open", n, attempt(lambda: opened(p, f)))
    for m, n in ((os.F_OK, "F"), (os.R_OK, "R"), (os.W_OK, "W"), (os.X_OK, "X")):
        print(p, "access", n, attempt(lambda: os.access(p, m)), attempt(lambda: os.access(p, m, effective_ids=True)))
print("self", os.readlink("/proc/self") == str(os.getpid()))
# Node files: reads at the offset the node tracks, pread, the offset seen by
# a forwarded lseek, a dup and a forked child (sharing the description),
# and a closed fd's number reused by the next open.
fd = os.open("data/file", os.O_RDONLY)
a = os.read(fd, 2); b = os.pread(fd, 3, 1); c = os.read(fd, 1)
print("reads", a, b, c, os.lseek(fd, 0, os.SEEK_CUR))
d = os.dup(fd)
print("dup", os.read(d, 1), os.read(fd, 1), os.lseek(d, 0, os.SEEK_CUR))
os.lseek(fd, 1, os.SEEK_SET)
print("after lseek", os.read(fd, 2))
os.close(d)
os.close(fd)
fd = os.open("data/file", os.O_RDONLY)
print("reused", fd == os.open("/usr/include/stdio.h", os.O_RDONLY) - 1, os.read(fd, 1))
pid = os.fork()
if pid == 0:
    print("child", os.read(fd, 2), flush=True)
    os._exit(0)
os.waitpid(pid, 0)
print("parent", os.read(fd, 2), os.fstat(fd).st_size)
if os.environ.get("LIMITS_OUT"):
    # spanvm's own limits (RLIMIT_AS is --mem): compared between modes only.
    import resource
    with open(os.environ["LIMITS_OUT"], "w") as f:
        for r in range(16):
            f.write("%d %s\n" % (r, attempt(lambda: resource.getrlimit(r))))
print("exe", os.readlink("/proc/self/exe") == os.path.realpath(sys.executable))
PY
cat >threads.py <<'PY'
import threading
out = [0] * 4
def work(i):
    out[i] = sum(range(i * 1000))
ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
for t in ts: t.start()
for t in ts: t.join()
print(out, threading.active_count())
PY
opts=(--local-hosts 2 --netns --place round-robin --place-exec round-robin)
statf='%n %i %s %h %u %g %f %Y %N'
statpaths=(/usr /usr/include/stdio.h data/file data/link data/dir/ data/dangling /nonexistent data/abs_link)
if [ "$1" = make ]; then
    "$(dirname "$0")/gen_c_project.sh" proj 8
    rc_of "$SPANVM" -v run "${opts[@]}" --json make.json -- "$(tool make)" -s -C proj -j2 >make.out 2>make.err
    expect_rc "$RC" 0 "placed make -j2" make.err
    ! grep 'path calls forwarded' make.err || fail "a node forwarded a thread's path calls:"$'\n'"$(show make.err)"
    node1_fields --all make.json cc1 node_syscalls_local node_syscalls_forwarded >cc1.counts
    read -r n low <<<"$(awk '{n++; if (n == 1 || $1 < l) l = $1} END {print n, l}' cc1.counts)"
    [ "$low" -ge 60 ] || fail "a cc1 on node 1 answered only $low calls there (answered, forwarded):"$'\n'"$(show cc1.counts)"
    pass "make -j2: $n cc1 processes on node 1, each answered >= $low calls there"
fi
# round-robin: the shell stays at the origin; true goes to host 0, the next exec to host 1, and so on.
case "$1" in
paths) cmd=("$(tool sh)" -c "/usr/bin/true; $py paths.py; /usr/bin/true; $(tool stat) -c '$statf' ${statpaths[*]}; echo \$?") ;;
threads) cmd=("$(tool sh)" -c "/usr/bin/true; $py threads.py") ;;
words) cmd=("$(tool sh)" -c "/usr/bin/true; $(gp thread_words dynamic)") ;;
*) fail "unknown case $1" ;;
esac
rc_of run_direct "${cmd[@]}" >native.out 2>native.err
expect_rc "$RC" 0 "native run" native.err
# counts FILE PROGRAM: "local forwarded" of PROGRAM's process on node 1.
counts() {
    node1_fields "$1" "$2" node_syscalls_local node_syscalls_forwarded
}
declare -A loc fwd
for mode in all thread off; do
    rc_of env SPANVM_NODE_ANSWERS=$mode LIMITS_OUT=limits.$mode "$SPANVM" run "${opts[@]}" --json $mode.json -- "${cmd[@]}" >$mode.out 2>$mode.err
    expect_rc "$RC" 0 "placed run, SPANVM_NODE_ANSWERS=$mode" $mode.err
    expect_same_file $mode.out native.out "placed output, SPANVM_NODE_ANSWERS=$mode"
    prog=python3
    [ "$1" = words ] && prog=gp_thread_words
    read -r "loc[$mode]" "fwd[$mode]" <<<"$(counts $mode.json $prog)"
    it_log "SPANVM_NODE_ANSWERS=$mode: $prog's node answered ${loc[$mode]}, forwarded ${fwd[$mode]}"
done
# off: only gettid and sched_yield (python's threads ask their native ids).
[ "${loc[thread]}" -ge $((loc[off] + 3)) ] || fail "thread mode answered only ${loc[thread]} (off: ${loc[off]})"
[ "${loc[all]}" -ge "${loc[thread]}" ] || fail "all answered ${loc[all]}, thread ${loc[thread]}"
total_all=$((loc[all] + fwd[all]))
total_off=$((loc[off] + fwd[off]))
case "$1" in
paths)
    [ "${loc[off]}" -le 2 ] || fail "SPANVM_NODE_ANSWERS=off: the node still answered ${loc[off]} calls"
    [ "${loc[all]}" -ge 60 ] || fail "the node answered only ${loc[all]} of python3's calls itself"
    [ $((fwd[all] + 60)) -le "${fwd[off]}" ] || fail "forwarded ${fwd[all]} with all, ${fwd[off]} with off"
    # The same calls in both runs, only answered elsewhere.
    [ $((total_all - total_off)) -le 5 ] && [ $((total_off - total_all)) -le 5 ] ||
        fail "python3 made $total_all calls with all, $total_off with off"
    expect_same_file limits.all limits.off "getrlimit of every resource, answered on the node or not"
    expect_same_file limits.thread limits.off "getrlimit of every resource (thread mode)"
    read -r sloc sfwd <<<"$(counts all.json stat)"
    [ "$sloc" -ge 8 ] || fail "the node answered only $sloc of stat's calls itself"
    pass "python3 on node 1: ${loc[all]} answered there, ${fwd[all]} forwarded (off: ${fwd[off]} forwarded); stat: $sloc answered, $sfwd forwarded"
    ;;
words)
    pass "gp_thread_words on node 1: ${loc[all]} answered there, ${fwd[all]} forwarded (off: ${fwd[off]})"
    ;;
threads)
    pass "python3 threads on node 1: ${loc[all]} answered there, ${fwd[all]} forwarded (off: ${fwd[off]})"
    ;;
esac
