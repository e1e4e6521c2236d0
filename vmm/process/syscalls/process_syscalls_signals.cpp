// Emulated process syscalls, signals: actions, masks, the alternate stack,
// waiting for and sending signals (the guest is the only process), and the
// interval timers behind setitimer/getitimer/alarm.
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <optional>

#include "vmm/process/process.hpp"
#include "vmm/process/signals/signal_frame.hpp"
#include "vmm/process/syscalls/process_syscalls_detail.hpp"
#include "vmm/process/threads/guest_thread.hpp"

namespace spanvm::process::detail {

namespace {

int64_t sys_rt_sigaction(GuestThread& t, const SyscallRequest& r) {
    Process& p = t.process();
    if (r.args[3] != 8) return -EINVAL;
    KernelSigaction act{}, old{};
    const KernelSigaction* actp = nullptr;
    if (r.args[1]) {
        auto a = p.mem().read<KernelSigaction>(r.args[1]);
        if (!a) return -EFAULT;
        act = *a;
        actp = &act;
    }
    int64_t res = p.signals().exchange(static_cast<int>(r.args[0]), actp, r.args[2] ? &old : nullptr);
    if (res == 0 && r.args[2] && !p.mem().write(r.args[2], old)) return -EFAULT;
    return res;
}

int64_t sys_rt_sigprocmask(GuestThread& t, const SyscallRequest& r) {
    if (r.args[3] != 8) return -EINVAL;
    Process& p = t.process();
    std::atomic<uint64_t>& mask = t.row().sigmask;
    const uint64_t old = mask.load();
    if (r.args[1]) {
        auto set = p.mem().read<uint64_t>(r.args[1]);
        if (!set) return -EFAULT;
        uint64_t m = old;
        switch (r.args[0]) {
            case SIG_BLOCK: m |= *set; break;
            case SIG_UNBLOCK: m &= ~*set; break;
            case SIG_SETMASK: m = *set; break;
            default: return -EINVAL;
        }
        // Signals this unblocks are delivered on the way out of this call.
        mask = m & ~SignalTable::kUnblockable;
        p.mask_changed(t, old);
    }
    if (r.args[2] && !p.mem().write(r.args[2], old)) return -EFAULT;
    return 0;
}

SigInfoFields user_info(Process& p, int code) { return {code, p.pid(), static_cast<uint32_t>(::getuid())}; }

// As in Linux, the new stack is read and checked first and the old one is
// written last, only on success (so ss == old_ss reads the new value).
int64_t sys_sigaltstack(GuestThread& t, const SyscallRequest& r) {
    Process& p = t.process();
    AltStack& as = t.row().altstack;
    const uint64_t sp = t.regs().rsp;
    const bool on = !(as.flags & SS_DISABLE) && sp > as.sp && sp - as.sp <= as.size;
    stack_t old{};
    old.ss_sp = reinterpret_cast<void*>(as.sp);
    old.ss_size = as.size;
    old.ss_flags = (on ? SS_ONSTACK : (as.flags & SS_DISABLE)) | (as.flags & kSsAutodisarm);
    if (r.args[0]) {
        auto ns = p.mem().read<stack_t>(r.args[0]);
        if (!ns) return -EFAULT;
        if (on) return -EPERM;
        AltStack next;
        if (int64_t e = checked_altstack(AltStack{reinterpret_cast<uint64_t>(ns->ss_sp), ns->ss_size, ns->ss_flags},
                                           next);
            e != 0)
            return e;
        as = next;
    }
    if (r.args[1] && !p.mem().write(r.args[1], old)) return -EFAULT;
    return 0;
}

// timeval <-> IntervalTimer::Duration (nanoseconds; a remainder below a
// microsecond rounds up, so an armed timer never reads as 0).
IntervalTimer::Duration from_timeval(const struct timeval& tv) {
    return std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec);
}
struct timeval to_timeval(IntervalTimer::Duration d) {
    const int64_t us = (d.count() + 999) / 1000;
    struct timeval tv {};
    tv.tv_sec = us / 1000000;
    tv.tv_usec = us % 1000000;
    return tv;
}

// ITIMER_REAL is emulated (signals/interval_timer.hpp: one VMM thread while
// armed). ITIMER_VIRTUAL and ITIMER_PROF are the host process's own: a
// guest process is a host process whose guest threads are host threads, so
// the host kernel's CPU-time accounting is the guest's, a forked child
// starts without them and execve keeps them (spanvm's exec stays in the
// process), as Linux's do. The expiry's host SIGVTALRM/SIGPROF (si_code
// SI_KERNEL) is taken by the signal forwarder (process_lifetime.cpp) and
// sent to the guest process as Linux sends it, process-directed.
// Departures: the host's count also holds spanvm's own time in the process
// (trap handling, the forwarder's ticks), and in a cluster only the threads
// at the origin count.
// `which` is an int in Linux's ABI: the register's upper half is ignored.
int itimer_which(const SyscallRequest& r) { return static_cast<int>(r.args[0]); }
bool host_cpu_itimer(int which) { return which == ITIMER_VIRTUAL || which == ITIMER_PROF; }

int64_t host_setitimer(GuestThread& t, const SyscallRequest& r) {
    Process& p = t.process();
    struct itimerval nv {}, ov {};
    if (r.args[1]) {
        auto v = p.mem().read<struct itimerval>(r.args[1]);
        if (!v) return -EFAULT;
        nv = *v;
    }
    // A NULL new value disarms, as Linux takes it.
    if (::setitimer(static_cast<__itimer_which>(itimer_which(r)), &nv, &ov) != 0) return -errno;
    // An expiry of the old setting reaches the guest before the call
    // returns, as on Linux: none comes after a disarm.
    p.settle_host_signal(t, itimer_which(r) == ITIMER_VIRTUAL ? SIGVTALRM : SIGPROF);
    if (r.args[2] && !p.mem().write(r.args[2], ov)) return -EFAULT;
    return 0;
}

int64_t sys_setitimer(GuestThread& t, const SyscallRequest& r) {
    Process& p = t.process();
    if (host_cpu_itimer(itimer_which(r))) return host_setitimer(t, r);
    if (itimer_which(r) != ITIMER_REAL) return -EINVAL;
    IntervalTimer::Value nv{};
    if (r.args[1]) {
        auto v = p.mem().read<struct itimerval>(r.args[1]);
        if (!v) return -EFAULT;
        for (const auto& tv : {v->it_value, v->it_interval})
            if (tv.tv_sec < 0 || tv.tv_usec < 0 || tv.tv_usec >= 1000000) return -EINVAL;
        nv = {from_timeval(v->it_value), from_timeval(v->it_interval)};
    }
    auto old = r.args[1] ? p.itimer().set(nv) : p.itimer().get();
    if (r.args[2]) {
        struct itimerval ov {};
        ov.it_value = to_timeval(old.value);
        ov.it_interval = to_timeval(old.interval);
        if (!p.mem().write(r.args[2], ov)) return -EFAULT;
    }
    return 0;
}

int64_t sys_getitimer(GuestThread& t, const SyscallRequest& r) {
    Process& p = t.process();
    struct itimerval ov {};
    if (host_cpu_itimer(itimer_which(r))) {
        if (::getitimer(static_cast<__itimer_which>(itimer_which(r)), &ov) != 0) return -errno;
    } else if (itimer_which(r) == ITIMER_REAL) {
        auto v = p.itimer().get();
        ov.it_value = to_timeval(v.value);
        ov.it_interval = to_timeval(v.interval);
    } else {
        return -EINVAL;
    }
    return p.mem().write(r.args[1], ov) ? 0 : -EFAULT;
}

// alarm(2): seconds left on the previous alarm, rounded to nearest (never 0
// for an armed one), as Linux does.
int64_t sys_alarm(GuestThread& t, const SyscallRequest& r) {
    Process& p = t.process();
    const auto secs = std::chrono::seconds(static_cast<unsigned>(r.args[0]));
    auto old = p.itimer().set({std::chrono::duration_cast<IntervalTimer::Duration>(secs), {}});
    if (old.value.count() == 0) return 0;
    const int64_t left = (old.value.count() + 500000000) / 1000000000;
    return left ? left : 1;
}

int64_t sys_rt_sigreturn(GuestThread& t, const SyscallRequest&) { return t.sigreturn(); }

int64_t sys_rt_sigpending(GuestThread& t, const SyscallRequest& r) {
    Process& p = t.process();
    if (r.args[1] != 8) return -EINVAL;
    const uint64_t pend = p.signals().pending(t.row()) & t.row().sigmask.load();
    return p.mem().write(r.args[0], pend) ? 0 : -EFAULT;
}

int64_t sys_pause(GuestThread& t, const SyscallRequest&) { return t.wait_for_signal(std::nullopt); }

// signalfd4(fd, mask, sizemask, flags) and signalfd: a new signalfd (fd -1,
// a host eventfd with its state: signal_fd.hpp) or a new mask for one.
int64_t sys_signalfd4(GuestThread& t, const SyscallRequest& r) {
    Process& p = t.process();
    const int fd = static_cast<int>(r.args[0]);
    const uint64_t flags = r.nr == SYS_signalfd ? 0 : r.args[3];
    if (r.args[2] != 8 || (flags & ~uint64_t{SFD_CLOEXEC | SFD_NONBLOCK})) return -EINVAL;
    auto m = p.mem().read<uint64_t>(r.args[1]);
    if (!m) return -EFAULT;
    const uint64_t mask = *m & ~SignalTable::kUnblockable;
    if (fd != -1) {
        const FdRef f = p.fds().acquire(fd);
        if (!f) return -EBADF;
        if (!f->signalfd()) return -EINVAL;
        f->signalfd()->set_mask(mask);
        if (p.signals().pending(t.row()) & mask) f->signalfd()->notify();
        return fd;
    }
    const int efd = ::eventfd(0, EFD_CLOEXEC | ((flags & SFD_NONBLOCK) ? EFD_NONBLOCK : 0));
    if (efd < 0) return -errno;
    const int nfd = ::fcntl(efd, F_DUPFD_CLOEXEC, 0);
    if (nfd < 0) {
        const int e = errno;
        ::close(efd);
        return -e;
    }
    auto sfd = std::make_shared<SignalFd>(nfd, mask);
    p.signal_fds().add(sfd);
    if (p.signals().pending(t.row()) & mask) sfd->notify();
    return p.fds().install(efd, (flags & SFD_CLOEXEC) != 0, FdTraits{ProcFdDir::none, sfd});
}

// rt_sigtimedwait(set, info, timeout, sigsetsize): sigwait, sigwaitinfo and
// sigtimedwait. Not restarted after a handler runs (EINTR), as in Linux.
int64_t sys_rt_sigtimedwait(GuestThread& t, const SyscallRequest& r) {
    Process& p = t.process();
    if (r.args[3] != 8) return -EINVAL;
    auto set = p.mem().read<uint64_t>(r.args[0]);
    if (!set) return -EFAULT;
    std::optional<std::chrono::nanoseconds> timeout;
    if (r.args[2]) {
        auto ts = p.mem().read<timespec>(r.args[2]);
        if (!ts) return -EFAULT;
        if (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000) return -EINVAL;
        timeout = std::chrono::seconds(ts->tv_sec) + std::chrono::nanoseconds(ts->tv_nsec);
    }
    return t.take_signal(*set, timeout, r.args[1]);
}

int64_t sys_rt_sigsuspend(GuestThread& t, const SyscallRequest& r) {
    if (r.args[1] != 8) return -EINVAL;
    auto m = t.process().mem().read<uint64_t>(r.args[0]);
    if (!m) return -EFAULT;
    return t.wait_for_signal(*m);
}

int64_t sys_kill(GuestThread& t, const SyscallRequest& r) {
    Process& p = t.process();
    const pid_t pid = static_cast<pid_t>(r.args[0]);
    const int sig = static_cast<int>(r.args[1]);
    // Itself: its own tables. (In a program spread over hosts, the other
    // guest processes are local processes at the origin too.)
    if (pid == p.pid()) return p.send_signal(&t, sig, 0, user_info(p, SI_USER));
    // Other guest processes are host processes (guest pid == host pid); the
    // receiver's forwarder turns the host signal into its guest signal.
    return guest_kill_other(p, pid, sig);
}

int64_t sys_tgkill(GuestThread& t, const SyscallRequest& r) {
    Process& p = t.process();
    const pid_t tgid = static_cast<pid_t>(r.args[0]);
    if (tgid <= 0) return -EINVAL;
    // Another process's main thread (its tid is its pid, a host pid); its
    // other threads' tids are not host tids: ESRCH.
    if (tgid != p.pid())
        return static_cast<pid_t>(r.args[1]) == tgid ? guest_kill_other(p, tgid, static_cast<int>(r.args[2])) : -ESRCH;
    if (static_cast<int>(r.args[1]) <= 0) return -EINVAL;
    return p.send_signal(&t, static_cast<int>(r.args[2]), static_cast<int>(r.args[1]), user_info(p, SI_TKILL));
}

int64_t sys_tkill(GuestThread& t, const SyscallRequest& r) {
    Process& p = t.process();
    if (static_cast<int>(r.args[0]) <= 0) return -EINVAL;
    return p.send_signal(&t, static_cast<int>(r.args[1]), static_cast<int>(r.args[0]), user_info(p, SI_TKILL));
}

// rt_sigqueueinfo(tgid, sig, info) and rt_tgsigqueueinfo(tgid, tid, sig,
// info): a signal with the caller's siginfo (sigqueue(3): SI_QUEUE, its
// pid, uid and value). As Linux: to another process only a negative
// si_code other than SI_TKILL (EPERM: no posing as the kernel or kill);
// a real-time signal queues (SignalTable::post, EAGAIN past its limit).
// Another process gets it as a host signal with the same siginfo, which
// its forwarder takes (process_lifetime.cpp); of its threads only the
// first one's tid is a host tid (ESRCH for the others, as tgkill).
int64_t queue_signal(GuestThread& t, pid_t tgid, pid_t tid, int sig, uint64_t uinfo) {
    Process& p = t.process();
    if (sig < 0 || sig > SignalTable::kMaxSignal) return -EINVAL;
    auto raw = p.mem().read<siginfo_t>(uinfo);
    if (!raw) return -EFAULT;
    siginfo_t si = *raw;
    const bool to_self = tgid == p.pid();
    if (!to_self && (si.si_code >= 0 || si.si_code == SI_TKILL)) return -EPERM;
    if (to_self) {
        SigInfoFields info{si.si_code, si.si_pid, si.si_uid};
        info.value = reinterpret_cast<uint64_t>(si.si_value.sival_ptr);
        return p.send_signal(&t, sig, tid, info);
    }
    if (tid != 0 && tid != tgid) return -ESRCH;
    if (Process::host_reserved_signal(sig)) {
        p.report_unsupported_feature(fmt::format("signal {} to another process (a number spanvm keeps)", sig));
        return -EINVAL;
    }
    si.si_signo = sig;
    const long rc = tid ? ::syscall(SYS_rt_tgsigqueueinfo, tgid, tid, sig, &si)
                        : ::syscall(SYS_rt_sigqueueinfo, tgid, sig, &si);
    return rc == 0 ? 0 : -errno;
}

int64_t sys_rt_sigqueueinfo(GuestThread& t, const SyscallRequest& r) {
    return queue_signal(t, static_cast<pid_t>(r.args[0]), 0, static_cast<int>(r.args[1]), r.args[2]);
}

int64_t sys_rt_tgsigqueueinfo(GuestThread& t, const SyscallRequest& r) {
    const auto tgid = static_cast<pid_t>(r.args[0]), tid = static_cast<pid_t>(r.args[1]);
    if (tgid <= 0 || tid <= 0) return -EINVAL;
    return queue_signal(t, tgid, tid, static_cast<int>(r.args[2]), r.args[3]);
}

// Whether host fd `fd` names host process `pid`: a pidfd (its fdinfo's
// "Pid:" line) or an fd of the directory /proc/PID (which
// pidfd_send_signal takes too).
bool fd_names_process(int fd, pid_t pid) {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
    if (FILE* f = std::fopen(path, "re")) {
        char line[128];
        long named = -1;
        while (std::fgets(line, sizeof line, f))
            if (std::sscanf(line, "Pid: %ld", &named) == 1) break;
        std::fclose(f);
        if (named != -1) return named == pid;
    }
    struct stat a {}, b {};
    std::snprintf(path, sizeof path, "/proc/%d", static_cast<int>(pid));
    return ::fstat(fd, &a) == 0 && ::stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

// pidfd_send_signal(pidfd, sig, info, flags). To the process itself, as a
// kill to itself (sys_kill): its own tables, so the signal is taken before
// the call returns, as on Linux (CPython's test_signal counts on it);
// `info`, as rt_sigqueueinfo's to itself. Another process: the host call
// (host_syscalls_notify.cpp), which its forwarder turns into its signal.
constexpr uint64_t kSiginfoBytes = 128;
int64_t sys_pidfd_send_signal(GuestThread& t, const SyscallRequest& r) {
    Process& p = t.process();
    const int sig = static_cast<int>(r.args[1]);
    bool self = false;
    {
        const FdRef f = p.fds().acquire(static_cast<int>(r.args[0]));
        if (!f) return -EBADF;
        self = fd_names_process(f->fd(), p.pid());
    }
    if (!self) return host_syscall(p.host_ctx(), r.nr, r.args);
    if (r.args[3] != 0) return -EINVAL;  // no flags are defined for a process
    if (sig < 0 || sig > SignalTable::kMaxSignal) return -EINVAL;
    SigInfoFields info = user_info(p, SI_USER);
    if (r.args[2]) {
        if (!p.mem().valid(r.args[2], kSiginfoBytes)) return -EFAULT;
        auto si = p.mem().read<siginfo_t>(r.args[2]);
        if (!si) return -EFAULT;
        if (si->si_signo != sig) return -EINVAL;
        info = SigInfoFields{si->si_code, si->si_pid, si->si_uid};
        info.value = reinterpret_cast<uint64_t>(si->si_value.sival_ptr);
    }
    if (sig == 0) return 0;  // the process exists: it is the caller
    return p.send_signal(&t, sig, 0, info);
}

}  // namespace

void register_process_signals(ProcessHandlerTable& t) {
    t.add(SYS_pidfd_send_signal, sys_pidfd_send_signal);
    t.add(SYS_rt_sigaction, sys_rt_sigaction);
    t.add(SYS_rt_sigprocmask, sys_rt_sigprocmask);
    t.add(SYS_sigaltstack, sys_sigaltstack);
    t.add(SYS_rt_sigreturn, sys_rt_sigreturn);
    t.add(SYS_rt_sigpending, sys_rt_sigpending);
    t.add(SYS_pause, sys_pause);
    t.add(SYS_rt_sigtimedwait, sys_rt_sigtimedwait);
    t.add(SYS_signalfd, sys_signalfd4);
    t.add(SYS_signalfd4, sys_signalfd4);
    t.add(SYS_rt_sigsuspend, sys_rt_sigsuspend);
    t.add(SYS_kill, sys_kill);
    t.add(SYS_tgkill, sys_tgkill);
    t.add(SYS_tkill, sys_tkill);
    t.add(SYS_rt_sigqueueinfo, sys_rt_sigqueueinfo);
    t.add(SYS_rt_tgsigqueueinfo, sys_rt_tgsigqueueinfo);
    t.add(SYS_alarm, sys_alarm);
    t.add(SYS_setitimer, sys_setitimer);
    t.add(SYS_getitimer, sys_getitimer);
}

}  // namespace spanvm::process::detail
