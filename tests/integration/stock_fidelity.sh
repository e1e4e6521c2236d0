#!/usr/bin/env bash
# stock_fidelity.sh CASE : what programs expect of the process around them,
# output byte for byte equal to a native run:
#   priority  nice, renice, chrt, ionice and Python's os.setpriority /
#             os.sched_getscheduler (nice values and policies of the host
#             threads that run the guest's: process_syscalls_sched.cpp)
#   fds       fds the caller leaves open (a shell's 7<file 8>file, make's
#             jobserver pipe), /proc/self/fd listings, RLIMIT_NOFILE
#   pty       pseudo-terminals: Python's os.openpty, pty.fork, termios
#             (host_syscalls_ioctl.cpp)
#   sigwait   sigwait, sigtimedwait, sigwaitinfo, in the main thread and in
#             another (GuestThread::take_signal)
#   chld      SIGCHLD queued before wait returns (dash's CHLD trap, a
#             blocked one's si_status), SIGXFSZ past ulimit -f
#   notify    inotify, pidfd_open, pidfd_send_signal, waitid(P_PIDFD)
#             (host_syscalls_notify.cpp)
#   signalfd  script(1) (a pty and a signalfd), and a signalfd's readiness,
#             records and EAGAIN (vmm/process/signals/signal_fd.hpp)
#   stop      SIGSTOP, SIGTSTP and SIGCONT: a stopped process as its parent
#             and ps see it, a SIGCONT handler (GuestThread::stop_process)
#   cmdline   /proc/self/cmdline and environ show the guest's argv and envp
#             (where CAP_SYS_RESOURCE allows: Process::show_args_on_host)
#   cmake     cmake configures and ninja builds a one-file project
#   execthreads  execve in a process with other threads (blocked in read,
#             sleep, a futex, or running): they end, as Linux's de_thread
#   seccomp   a BPF filter installed with prctl from Python (ERRNO for
#             uname, inherited by a child process), strict mode's SIGKILL,
#             and man(1), whose helpers run under libseccomp's sandbox, with
#             nothing on stderr (process_syscalls_seccomp.cpp)
#   rtsig     real-time signals between processes: a handler, and queued
#             sigqueue(3) instances (process_syscalls_signals.cpp,
#             signals/signal_table.hpp)
#   profile   gprof of a program built with -pg (ITIMER_PROF's samples in
#             its gmon.out), Python's CPU-time itimers and a thread's CPU
#             clock (pthread_getcpuclockid), with nothing on
#             stderr (process_syscalls_signals.cpp)
#   timers    timeout(1) (a POSIX timer, then the signal it sends) with
#             its kill-after, and Python's time-outs, with nothing on
#             stderr (process_syscalls_timers.cpp)
#   limits    CPU affinity as the guest set it, prlimit of another process,
#             RLIMIT_CPU's SIGXCPU, prctl's parent-death signal, subreaper,
#             no_new_privs, dumpable, unknown options
. "$(dirname "$0")/lib.sh"
[ $# = 1 ] || fail "usage: $0 priority|fds|pty|sigwait|chld|notify|signalfd|stop|limits|execthreads|cmdline|cmake|seccomp|timers|profile|rtsig"
it_setup
py=/usr/bin/python3
[ -x "$py" ] || py="$(tool python3)"
case "$1" in
priority)
    cat >script.sh <<EOS
nice -n 5 nice
nice -n 5 nice -n 3 nice
renice -n 3 -p \$\$ >/dev/null && nice
ionice -c3 ionice
chrt -b 0 sh -c 'chrt -p \$\$' | sed 's/^pid [0-9]*//'
chrt --max
$py -c '
import os, threading
print(os.getpriority(os.PRIO_PROCESS, 0))
def f():
    os.setpriority(os.PRIO_PROCESS, 0, 7)
    print("thread", os.getpriority(os.PRIO_PROCESS, 0))
t = threading.Thread(target=f); t.start(); t.join()
print("main", os.getpriority(os.PRIO_PROCESS, 0))
print(os.sched_getscheduler(0) == os.SCHED_OTHER, os.sched_getparam(0).sched_priority)
up_r, up_w = os.pipe()
down_r, down_w = os.pipe()
p = os.fork()
if p == 0:
    os.nice(6); os.write(up_w, b"x"); os.read(down_r, 1); os._exit(0)
os.read(up_r, 1)
print("child", os.getpriority(os.PRIO_PROCESS, p))
os.write(down_w, b"y"); os.waitpid(p, 0)
try:
    os.getpriority(os.PRIO_PROCESS, 999999999)
except OSError as e:
    print("no such process:", e.errno)
'
EOS
    cmd=("$(tool bash)" script.sh) ;;
fds)
    printf 'line one\nline two\n' >in.txt
    mkdir sub
    printf 'all: a b c d\na b c d:\n\t@echo job $@ >/dev/null\n' >sub/Makefile
    cat >script.sh <<EOS
cat <&7
echo to eight >&8
ls /proc/self/fd | sort -n | tr '\n' ' '; echo
$py -c 'import os; print(sorted(int(f) for f in os.listdir("/proc/self/fd")))'
ulimit -n; ulimit -Hn
exec {fd}<>rw.txt; echo "new fd \$fd"
EOS
    # Run through an outer make, so that its jobserver pipe is among the
    # fds the program is given: a sub-make that did not get them says
    # "jobserver unavailable".
    printf 'all:\n\t+@$(RUNNER) %s script.sh 7<in.txt 8>out8.txt\n\t+@$(RUNNER) $(MAKE) -s -C sub\n' "$(tool bash)" >Makefile
    make_bin="$(tool make)"
    rc_of "$make_bin" -s -j2 RUNNER= >native.out 2>native.err
    expect_rc "$RC" 0 "native make" native.err
    cat out8.txt >>native.out
    rm -f out8.txt rw.txt
    runner=""
    is_native || runner="$SPANVM run --"
    rc_of "$make_bin" -s -j2 RUNNER="$runner" >guest.out 2>guest.err
    expect_rc "$RC" 0 "make running $(mode_name)" guest.err
    cat out8.txt >>guest.out
    expect_same_file guest.out native.out "fds output"
    if grep -q jobserver guest.err; then fail "the sub-make had no jobserver:"$'\n'"$(show guest.err)"; fi
    pass "$(mode_name)"
    ;;
pty)
    cmd=("$py" -c '
import os, pty, termios, tty, fcntl, struct
m, s = os.openpty()
print(os.isatty(s), os.ttyname(s).startswith("/dev/pts/"))
before = termios.tcgetattr(s)
tty.setraw(s)
print("raw differs", termios.tcgetattr(s) != before)
fcntl.ioctl(s, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
print(struct.unpack("HHHH", fcntl.ioctl(m, termios.TIOCGWINSZ, bytes(8))))
os.write(m, b"x"); print(os.read(s, 1))
pid, fd = pty.fork()
if pid == 0:
    print("child on a tty", os.isatty(0), os.getsid(0) == os.getpid())
    os._exit(3)
out = b""
while True:
    try:
        d = os.read(fd, 100)
    except OSError:
        break
    if not d:
        break
    out += d
print(out.strip(), os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
') ;;
sigwait)
    cmd=("$py" -c '
import os, signal, threading, time
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1, signal.SIGUSR2])
os.kill(os.getpid(), signal.SIGUSR2)
print(signal.sigwait([signal.SIGUSR1, signal.SIGUSR2]))
print(signal.sigtimedwait([signal.SIGUSR1], 0.2))
p = os.fork()
if p == 0:
    time.sleep(0.2); os.kill(os.getppid(), signal.SIGUSR1); os._exit(0)
i = signal.sigwaitinfo([signal.SIGUSR1])
print(i.si_signo, i.si_pid == p, i.si_code)
os.waitpid(p, 0)
got = []
t = threading.Thread(target=lambda: got.append(signal.sigwait([signal.SIGUSR1])))
t.start(); time.sleep(0.2); os.kill(os.getpid(), signal.SIGUSR1); t.join()
print("thread took", got)
') ;;
chld)
    # A child's SIGCHLD is queued before the parent's wait returns, with its
    # status: dash runs its CHLD trap once per command, and a blocked one is
    # pending for sigtimedwait when waitpid returns. A write past ulimit -f
    # ends the writer with SIGXFSZ (status 153 in the shell).
    cat >script.sh <<EOS
$(tool dash) -c 'trap "echo child-exit" CHLD; (exit 0); $(tool sleep) 0.1; echo end'
$py -c '
import os, signal
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGCHLD])
p = os.fork()
if p == 0:
    os._exit(42)
os.waitpid(p, 0)
i = signal.sigtimedwait([signal.SIGCHLD], 0)
print(i.si_signo, i.si_code, i.si_status, i.si_pid == p)
'
(ulimit -f 1; $(tool yes) | $(tool head) -c 2000 > fsize.out) 2>/dev/null; echo "ulimit -f: \$?"; $(tool stat) -c %s fsize.out
EOS
    cmd=("$(tool bash)" script.sh) ;;
notify)
    mkdir watched
    cmd=("$py" -c '
import ctypes, os, select, signal, struct, time
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init1(os.O_NONBLOCK)
wd = libc.inotify_add_watch(fd, b"watched", 0x100)  # IN_CREATE
open("watched/new", "w").close()
select.select([fd], [], [], 5)
d = os.read(fd, 4096)
w, mask, cookie, n = struct.unpack("iIII", d[:16])
print("inotify", w == wd, hex(mask), d[16:16 + n].rstrip(bytes(1)), libc.inotify_rm_watch(fd, wd))
os.unlink("watched/new")  # the next run creates it again
p = os.fork()
if p == 0:
    time.sleep(0.2); os._exit(5)
pfd = os.pidfd_open(p)
print("pidfd readable at exit", select.select([pfd], [], [], 5)[0] == [pfd])
print("waitid P_PIDFD", os.waitid(os.P_PIDFD, pfd, os.WEXITED).si_status)
p = os.fork()
if p == 0:
    time.sleep(5); os._exit(0)
pfd = os.pidfd_open(p)
signal.pidfd_send_signal(pfd, signal.SIGTERM)
print("pidfd_send_signal", os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]))
') ;;
signalfd)
    cat >script.sh <<EOS
$(tool script) -qc 'echo in a pty; tty | sed "s/[0-9]*\$//"' /dev/null | tr -d '\r'
$py -c '
import ctypes, os, select, signal, struct
libc = ctypes.CDLL(None, use_errno=True)
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1, signal.SIGCHLD])
mask = ctypes.c_uint64((1 << (signal.SIGUSR1 - 1)) | (1 << (signal.SIGCHLD - 1)))
fd = libc.signalfd(-1, ctypes.byref(mask), 0)
print("idle", select.select([fd], [], [], 0)[0])
os.kill(os.getpid(), signal.SIGUSR1)
print("readable", select.select([fd], [], [], 5)[0] == [fd])
d = os.read(fd, 128)
print(struct.unpack("I", d[:4])[0], struct.unpack("I", d[12:16])[0] == os.getpid())
p = os.fork()
if p == 0:
    os._exit(4)
d = os.read(fd, 256)
print("SIGCHLD", struct.unpack("I", d[:4])[0], struct.unpack("I", d[12:16])[0] == p, len(d))
os.waitpid(p, 0)
os.set_blocking(fd, False)
try:
    os.read(fd, 128)
except BlockingIOError:
    print("EAGAIN")
'
EOS
    cmd=("$(tool bash)" script.sh) ;;
stop)
    cat >script.sh <<EOS
# ps's state letter of a process, once it is (or is not) T: at most 10 s.
state() { for _ in \$(seq 100); do s=\$(ps -o stat= -p \$1 | cut -c1); [ "\$s" \$2 T ] && break; sleep 0.1; done; echo "\$s"; }
sleep 30 & p=\$!
kill -STOP \$p; echo "stopped: \$(state \$p =)"
kill -CONT \$p; s=\$(state \$p !=); [ "\$s" != T ] && echo continued
kill \$p; wait \$p; echo st=\$?
$py -c '
import os, signal
p = os.fork()
if p == 0:
    os.kill(os.getpid(), signal.SIGSTOP)
    print("resumed", flush=True)
    os._exit(7)
pid, st = os.waitpid(p, os.WUNTRACED)
print("stopped", os.WIFSTOPPED(st), os.WSTOPSIG(st))
os.kill(p, signal.SIGCONT)
print("exit", os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]))
p = os.fork()
if p == 0:
    signal.signal(signal.SIGCONT, lambda *a: print("SIGCONT handler", flush=True))
    os.kill(os.getpid(), signal.SIGTSTP)
    print("resumed", flush=True)
    os._exit(0)
pid, st = os.waitpid(p, os.WUNTRACED)
print("stopped by", os.WSTOPSIG(st))
os.kill(p, signal.SIGCONT)
os.waitpid(p, 0)
'
EOS
    cmd=("$(tool bash)" script.sh) ;;
limits)
    cat >script.sh <<EOS
taskset -c 0 nproc
$py -c 'import os; os.sched_setaffinity(0, {0}); print(os.sched_getaffinity(0), len(os.sched_getaffinity(0)))'
prlimit --pid \$\$ --cpu --noheadings -o SOFT
prlimit --pid \$\$ --cpu=5:7 && prlimit --pid \$\$ --cpu --noheadings -o SOFT,HARD
$py -c '
import ctypes, os, signal, resource
libc = ctypes.CDLL(None, use_errno=True)
v = ctypes.c_int(-7)
print("pdeathsig", libc.prctl(2, ctypes.byref(v)), v.value, libc.prctl(1, 15), libc.prctl(2, ctypes.byref(v)), v.value)
print("subreaper", libc.prctl(37, ctypes.byref(v)), v.value, libc.prctl(36, 1), libc.prctl(37, ctypes.byref(v)), v.value)
print("no_new_privs", libc.prctl(39, 0, 0, 0, 0), libc.prctl(38, 1, 0, 0, 0), libc.prctl(39, 0, 0, 0, 0))
print("dumpable", libc.prctl(3, 0, 0, 0, 0))
print("unknown option", libc.prctl(9999, 0, 0, 0, 0), ctypes.get_errno())
signal.signal(signal.SIGXCPU, lambda *a: (print("SIGXCPU"), os._exit(0)))
resource.setrlimit(resource.RLIMIT_CPU, (1, 5))
while True:
    pass
'
EOS
    cmd=("$(tool bash)" script.sh) ;;
execthreads)
    cat >script.sh <<EOS
$py -c '
import os, threading, time
r, w = os.pipe()
threading.Thread(target=lambda: os.read(r, 1), daemon=True).start()
threading.Thread(target=lambda: time.sleep(100), daemon=True).start()
threading.Thread(target=lambda: threading.Event().wait(), daemon=True).start()
threading.Thread(target=lambda: [0 for _ in iter(int, 1)], daemon=True).start()
time.sleep(0.2)
os.execv("/bin/echo", ["echo", "the main thread execd, its other threads ended"])
'
$py -c '
import os, signal, threading, time
def f():
    time.sleep(0.2)
    os.execv("$py", ["python3", "-c", "import os, threading; print(\"a second thread execd, its tid is the pid:\", os.getpid() == threading.get_native_id())"])
threading.Thread(target=f).start()
signal.pause()
'
EOS
    cmd=("$(tool bash)" script.sh) ;;
cmdline)
    # /proc/PID/cmdline and environ show the guest's argv and envp, read by
    # the process itself, by its child, and by pgrep -f, pkill -f and ps
    # (another process). spanvm says so with prctl(PR_SET_MM) where it holds
    # CAP_SYS_RESOURCE, else with PR_SET_MM_MAP, which needs none but a
    # kernel built with CONFIG_CHECKPOINT_RESTORE; on a kernel without it,
    # and without the capability, they show spanvm's own, which this case
    # checks for then.
    cap_eff=$(awk '/^CapEff/ {print $2}' /proc/self/status)
    mm_map=$("$py" -c 'import ctypes; n = ctypes.c_uint(0); print(int(ctypes.CDLL(None).prctl(35, 15, ctypes.byref(n), 0, 0) == 0))')
    # The sleep's argument is this run's own: the kvm and native variants of
    # this case run at the same time under ctest -j, and a shared command
    # line let one's pkill -f end the other's sleep.
    nap="7.$$"
    cat >script.sh <<EOS
tr '\0' ' ' </proc/self/cmdline; echo
$py -c 'import os; print(open("/proc/self/cmdline", "rb").read().split(bytes(1))[:3]); print(b"MARKER=cmdline-case" in open("/proc/self/environ", "rb").read().split(bytes(1)))'
sh -c 'tr "\0" " " </proc/\$\$/cmdline; echo'
$(tool sleep) $nap & p=\$!
# Until the child has exec'd sleep (a fork+exec takes ~20 ms on nested KVM;
# pgrep could come first and find the shell's copy).
for i in \$(seq 100); do [ "\$(tr '\\0' ' ' </proc/\$p/cmdline)" = "$(tool sleep) $nap " ] && break; $(tool sleep) 0.05; done
$(tool pgrep) -fx "$(tool sleep) $nap" >/dev/null && echo "pgrep -f finds it"
$(tool ps) -o args= -p \$p
$(tool pkill) -fx "$(tool sleep) $nap"; wait \$p; echo "pkill -f: \$?"
EOS
    rc_of run_direct env MARKER=cmdline-case "$(tool bash)" script.sh >native.out 2>native.err
    expect_rc "$RC" 0 "native run" native.err
    grep -q "pkill -f: 143" native.out || fail "native: pkill -f did not end sleep:"$'\n'"$(show native.out)"
    rc_of run_guest -- env MARKER=cmdline-case "$(tool bash)" script.sh >guest.out 2>guest.err
    expect_rc "$RC" 0 "$(mode_name) run" guest.err
    if is_native || [ "$mm_map" = 1 ] || (( (16#$cap_eff >> 24) & 1 )); then
        expect_same_file guest.out native.out "cmdline output"
    else
        grep -q "spanvm" guest.out || fail "without CAP_SYS_RESOURCE and PR_SET_MM_MAP the cmdline should still be spanvm's:"$'\n'"$(show guest.out)"
        it_log "no CAP_SYS_RESOURCE and no PR_SET_MM_MAP here: /proc/PID/cmdline shows spanvm's argv (departures.md)"
    fi
    pass "$(mode_name)"
    ;;
cmake)
    # CMake configures (its checks run the compiler under kwsys, which waits
    # for SIGCHLD on a pipe with pselect) and Ninja builds. A kick lost
    # before that wait once hung it for good (GuestThread::wait_with_sigmask
    # says why); that race showed in the session's probe, not reliably here.
    mkdir src
    printf 'cmake_minimum_required(VERSION 3.16)\nproject(t C)\ninclude(CheckIncludeFile)\ncheck_include_file(stdio.h HAVE_STDIO)\nadd_executable(hello hello.c)\n' >src/CMakeLists.txt
    printf '#include <stdio.h>\nint main(void) { puts("hello from cmake"); return 0; }\n' >src/hello.c
    cat >script.sh <<EOS
cd src && rm -rf b && $(tool cmake) -S . -B b -G Ninja >/dev/null 2>&1 && $(tool ninja) -C b >/dev/null && b/hello
EOS
    cmd=("$(tool bash)" script.sh) ;;
seccomp)
    cat >script.sh <<EOS
$py -c '
import ctypes, errno, os, struct, subprocess
libc = ctypes.CDLL(None, use_errno=True)
libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4
r = subprocess.run(["$py", "-c", "import ctypes; ctypes.CDLL(None).prctl(22, 1, 0, 0, 0); print(1)"])
# Killed by its first call strict mode refuses: SIGKILL on Linux, but some
# kernels (6.18 on a PVM guest) report SIGSEGV, so only "killed" compares.
print("strict child killed:", r.returncode < 0)
libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS
# ld [nr]; jeq #63 (uname), 0, 1; ret ERRNO|EPERM; ret ALLOW
insns = [(0x20, 0, 0, 0), (0x15, 0, 1, 63), (0x06, 0, 0, 0x50000 | errno.EPERM), (0x06, 0, 0, 0x7fff0000)]
prog = b"".join(struct.pack("HBBI", *i) for i in insns)
buf = ctypes.create_string_buffer(prog)
fprog = struct.pack("HxxxxxxQ", len(insns), ctypes.addressof(buf))
fbuf = ctypes.create_string_buffer(fprog)
print("install:", libc.prctl(22, 2, ctypes.addressof(fbuf), 0, 0), "mode:", libc.prctl(21, 0, 0, 0, 0))
try:
    os.uname()
except OSError as e:
    print("uname:", errno.errorcode[e.errno])
r = subprocess.run(["uname", "-s"], capture_output=True, text=True)
print("child uname:", r.returncode, r.stderr.strip().split(":")[-1])
'
man ls 2>&1 | head -12
EOS
    cmd=("$(tool bash)" script.sh) ;;
rtsig)
    # Real-time signals between processes: a handler in a child for
    # Python's os.kill, and two sigqueue(3) instances from procps' kill -q,
    # both taken by sigwaitinfo (queued, not merged). A host real-time
    # signal used to kill the receiving process outright.
    cat >script.sh <<EOS
$py -c '
import os, signal, subprocess, time
r, w = os.pipe()
p = os.fork()
if p == 0:
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGRTMIN + 2])
    got = []
    signal.signal(signal.SIGRTMIN + 1, lambda s, f: got.append(s))
    os.write(w, b"r")
    while not got:
        time.sleep(0.01)
    print("child: handler ran for RTMIN+1", flush=True)
    for i in range(2):
        info = signal.sigwaitinfo([signal.SIGRTMIN + 2])
        print("child: RTMIN+2, si_code", info.si_code, flush=True)
    os._exit(0)
os.read(r, 1)
os.kill(p, signal.SIGRTMIN + 1)
for v in ("7", "8"):
    subprocess.run(["kill", "-q", v, "-s", "RTMIN+2", str(p)], check=True)
print("status", os.waitpid(p, 0)[1])
'
EOS
    cmd=("$(tool bash)" script.sh) ;;
profile)
    # gprof: a program built with -pg samples itself with ITIMER_PROF
    # (glibc's profil) and writes gmon.out at exit; its flat profile must
    # hold the function that burnt the CPU. And Python's setitimer with
    # ITIMER_PROF and ITIMER_VIRTUAL.
    cat >hot.c <<'EOC'
#include <stdio.h>
#include <time.h>
static volatile unsigned long sink;
__attribute__((noinline)) static void hot(void) {
    struct timespec ts;
    do {
        for (int i = 0; i < 200000; ++i) sink += (unsigned long)i * 3u;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    } while (ts.tv_sec == 0 && ts.tv_nsec < 300000000);
}
int main(void) { hot(); puts("done"); return 0; }
EOC
    "$(tool gcc)" -O1 -pg -o hot hot.c || fail "gcc -pg"
    cat >script.sh <<EOS
rm -f gmon.out && ./hot && $(tool gprof) -b -p ./hot gmon.out | awk '\$NF == "hot" && \$3 > 0 { print "hot sampled" }'
$py -c '
import signal, time
for which, sig in ((signal.ITIMER_PROF, signal.SIGPROF), (signal.ITIMER_VIRTUAL, signal.SIGVTALRM)):
    n = [0]
    signal.signal(sig, lambda *a: n.__setitem__(0, n[0] + 1))
    signal.setitimer(which, 0.005, 0.005)
    end = time.process_time() + 3
    while n[0] < 5 and time.process_time() < end:
        sum(range(10000))
    signal.setitimer(which, 0)
    print(sig.name, n[0] >= 5)
import threading
c = time.pthread_getcpuclockid(threading.get_ident())
print("thread CPU clock:", time.clock_gettime(c) > 0, time.clock_gettime(time.CLOCK_PROCESS_CPUTIME_ID) > 0)
'
EOS
    cmd=("$(tool bash)" script.sh) ;;
timers)
    cat >script.sh <<EOS
timeout 0.3 sleep 5; echo "timeout: \$?"
timeout -s INT 0.3 sleep 5; echo "timeout INT: \$?"
timeout 5 sleep 0.1; echo "in time: \$?"
timeout -k 0.2 0.2 sh -c 'trap "" TERM; sleep 5'; echo "kill-after: \$?"
$py -c '
import subprocess
try:
    subprocess.run(["sleep", "5"], timeout=0.3)
except subprocess.TimeoutExpired:
    print("python: timed out")
'
EOS
    cmd=("$(tool bash)" script.sh) ;;
*) fail "unknown case '$1'" ;;
esac
expect_native_output "$1 output" "${cmd[@]}"
if [ "$1" = profile ]; then
    expect_grep "^hot sampled$" guest.out "gprof's flat profile of the guest's gmon.out"
fi
if { [ "$1" = timers ] || [ "$1" = profile ] || [ "$1" = rtsig ]; } && grep -q '^spanvm' guest.err; then
    fail "spanvm printed on stderr:"$'\n'"$(show guest.err)"
fi
if [ "$1" = seccomp ]; then
    # Not a failure both ways: the filter is on and does its work.
    expect_grep "^install: 0 mode: 2$" guest.out "the filter's install"
    expect_grep "^uname: EPERM$" guest.out "uname under the filter"
    expect_grep "^strict child killed: True$" guest.out "strict mode's kill"
    if grep -q '^spanvm' guest.err; then
        fail "spanvm printed on stderr (man's sandbox, a filter):"$'\n'"$(show guest.err)"
    fi
fi
pass "$(mode_name)"
