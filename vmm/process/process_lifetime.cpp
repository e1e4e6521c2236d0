// How processes end, and the host signals that reach the guest.
//
// Forwarded host signals: a guest process is a host process, so another
// guest process's kill(), a terminal's ^C and a child's SIGCHLD arrive as
// host signals. They are blocked in every spanvm thread (block_forwarded_
// signals, before the first thread is made) and taken with sigwaitinfo by
// one forwarder thread per process, which posts them as guest signals
// (send_signal: the guest's action, mask and handlers apply). SIGKILL and
// SIGSTOP act on the host process directly, as they would on the guest.
// SIGTSTP/SIGTTIN/SIGTTOU/SIGCONT keep the host's default (stop/continue
// spanvm: the guest's default action). A guest that ignores SIGCHLD (or sets
// SA_NOCLDWAIT) gets its children reaped here, as Linux does.
//
// Lifetime: the run's process (the root) is the subreaper of every process
// it starts. When it ends, whatever the path through end_process (exit,
// a fatal signal, ^C, SIGTERM), it SIGKILLs every descendant still running
// and reaps them until none is left; an orphan reparents to it on the way.
// Each forked process also checks the root's pidfd (inherited) and kills
// itself when the root is gone, which covers a root killed by SIGKILL.
//
// A forked process has one helper thread, this forwarder: it waits with
// sigtimedwait for at most the timekeeper's period (100 ms), and every
// period it re-anchors the process's driven Timekeeper (timekeeper.hpp,
// continue_in_child) and polls the root's pidfd without blocking. (It was
// three threads: this one, a Timekeeper update thread and a thread
// blocked in poll() on the root's pidfd, i.e. two more thread starts and
// exits per fork, the first one in a forked child ~0.5 ms of CPU on the
// 2-core host, for a process that often lives a few milliseconds until
// its exec.) The root keeps sigwaitinfo and its Timekeeper's own thread.
//
// Why sigwaitinfo/sigtimedwait, not one poll() on a signalfd and the pidfd:
// the kernel wakes every signalfd waiter of a process on *any* signal sent
// to any of its threads, and each Syscall User Dispatch trap is a SIGSYS.
// So a poll()ing forwarder woke (and went back to sleep) once per trapped
// syscall, ~23,000 times per `make -j2` of the 64-file project: a context
// switch each, and the process's mm active on the other CPU, so that
// copy-on-write faults and mprotects sent TLB-shootdown IPIs. sigtimedwait
// wakes only for the signals it waits for, and at the end of each period.
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <dirent.h>
#include <linux/futex.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "vmm/base/log.hpp"
#include "vmm/base/self_pid.hpp"
#include "vmm/platform/platform.hpp"
#include "vmm/process/process.hpp"
#include "vmm/process/signals/host_siginfo.hpp"
#include "vmm/process/threads/robust_list.hpp"
#include "vmm/process/threads/guest_thread.hpp"

namespace spanvm::process {

namespace {

// SIGTSTP and SIGCONT are forwarded too: the guest's handler runs, or
// SIGTSTP's default action stops the host process (GuestThread::
// stop_process); a host SIGCONT continues the process before the forwarder
// takes it. SIGTTIN and SIGTTOU are not: the kernel's terminal job control
// checks the calling thread's mask (a blocked one turns a background read
// into EIO instead of a stop), so a host one keeps the host's default
// action, a stop (a guest handler for them runs only for a guest's kill).
constexpr std::array kForwardedSignals = {SIGHUP,  SIGINT,  SIGQUIT,   SIGUSR1, SIGUSR2, SIGTERM, SIGCHLD,
                                          SIGWINCH, SIGURG, SIGALRM,   SIGVTALRM, SIGPROF, SIGXCPU, SIGXFSZ,
                                          SIGPWR,  SIGIO,   SIGCONT,   SIGTSTP};

// And every real-time signal but the reserved ones (host_reserved_signal):
// another guest process's kill or sigqueue, or a host user's.
sigset_t forwarded_set() {
    sigset_t s;
    sigemptyset(&s);
    for (int sig : kForwardedSignals) sigaddset(&s, sig);
    for (int sig = SIGRTMIN; sig <= SIGRTMAX; ++sig)
        if (!Process::host_reserved_signal(sig)) sigaddset(&s, sig);
    return s;
}

// The set of the one CPU this thread runs on now (none where unknown).
std::optional<cpu_set_t> this_cpu() {
    const int cpu = ::sched_getcpu();
    if (cpu < 0) return std::nullopt;
    cpu_set_t here;
    CPU_ZERO(&here);
    CPU_SET(cpu, &here);
    return here;
}

// Direct children of this process, from /proc (each /proc/PID/stat's
// fourth field, after the parenthesised command).
std::vector<pid_t> children_of(pid_t parent) {
    std::vector<pid_t> out;
    DIR* d = ::opendir("/proc");
    if (!d) return out;
    while (dirent* e = ::readdir(d)) {
        char* end = nullptr;
        const long pid = std::strtol(e->d_name, &end, 10);
        if (pid <= 0 || *end) continue;
        char path[64], buf[512];
        std::snprintf(path, sizeof path, "/proc/%ld/stat", pid);
        FILE* f = std::fopen(path, "re");
        if (!f) continue;
        const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
        std::fclose(f);
        buf[n] = 0;
        const char* rp = std::strrchr(buf, ')');
        char state = 0;
        int ppid = 0;
        if (rp && std::sscanf(rp + 1, " %c %d", &state, &ppid) == 2 && ppid == parent)
            out.push_back(static_cast<pid_t>(pid));
    }
    ::closedir(d);
    return out;
}

}  // namespace

bool Process::take_pending_host(int sig, siginfo_t& si) {
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    const timespec now{0, 0};
    return ::sigtimedwait(&one, &si, &now) == sig;
}

pid_t Process::forwarder_tid() const {
    // A forked child's copy names its parent's forwarder until its own runs:
    // only a thread of this process counts (not storing 0 at the fork saves
    // the child a copy-on-write fault on every spawn).
    for (int i = 0; i < 10000; ++i) {
        const pid_t t = forwarder_tid_.load();
        if (t > 0 && ::syscall(SYS_tgkill, self_pid(), t, 0) == 0) return t;
        ::usleep(100);
    }
    return 0;
}

bool Process::host_reserved_signal(int sig) {
    return (sig >= SignalTable::kSigRtMin && sig < SIGRTMIN) || sig == platform::Platform::kick_signal();
}

void Process::block_forwarded_signals() {
    const sigset_t s = forwarded_set();
    ::pthread_sigmask(SIG_BLOCK, &s, nullptr);
}

void Process::start_signal_forwarder() {
    // A stack of its own, mapped here, not one from glibc's stack cache. In
    // a forked child that cache holds every thread stack of the parent (its
    // forwarder's among them), copy-on-write: a thread started on one copies
    // every page it touches (its TLS block, its frames), and glibc re-inits
    // a cached stack's TLS through a libc-to-ld.so call
    // (_dl_allocate_tls_init) that the parent never made and so binds
    // lazily in every child: a walk over every library's symbol tables, ~15
    // page faults per forked process (LD_DEBUG=bindings). With a stack the
    // caller provides, glibc takes neither path: fresh zero-filled pages,
    // and _dl_allocate_tls, which every earlier thread start has bound. The
    // mapping is never freed: the forwarder lives as long as the process.
    // Its deepest path is send_signal and a log line; the lowest page is a
    // guard.
    constexpr size_t kForwarderStack = 512 * 1024;
    constexpr size_t kGuard = 4096;
    void* stack = ::mmap(nullptr, kForwarderStack + kGuard, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
    if (stack == MAP_FAILED) {
        log::warn("cannot start the host signal forwarder: mmap: {}", std::strerror(errno));
        return;
    }
    if (::mprotect(stack, kGuard, PROT_NONE) != 0) {
        log::warn("cannot start the host signal forwarder: mprotect: {}", std::strerror(errno));
        ::munmap(stack, kForwarderStack + kGuard);
        return;
    }
    pthread_attr_t attr;
    pthread_t th;
    int e = ::pthread_attr_init(&attr);
    if (e == 0) e = ::pthread_attr_setstack(&attr, static_cast<char*>(stack) + kGuard, kForwarderStack);
    if (e == 0) e = ::pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    // It runs on the CPU of the thread that starts it, always. Started
    // elsewhere (the scheduler's choice: the idle CPU), it made the process
    // active on two CPUs, and every copy-on-write fault, mprotect and munmap
    // of the guest thread then sent a TLB-shootdown IPI to the other. A
    // forked child starts one at once, so that was every guest process: a
    // fork+_exit+wait cycle cost ~80 us more (bench/results/
    // session-2026-12-07c). It mostly sleeps; where it runs matters only to
    // signal latency. Best effort: an affinity that cannot be set leaves the
    // scheduler's choice.
    if (const auto here = this_cpu(); e == 0 && here)
        (void)::pthread_attr_setaffinity_np(&attr, sizeof *here, &*here);
    if (e == 0)
        e = ::pthread_create(
            &th, &attr,
            [](void* self) -> void* {
                static_cast<Process*>(self)->forward_host_signals();
                return nullptr;
            },
            this);
    (void)::pthread_attr_destroy(&attr);
    if (e != 0) {
        log::warn("cannot start the host signal forwarder: {}", std::strerror(e));
        ::munmap(stack, kForwarderStack + kGuard);
    }
}

void Process::pin_forwarder_here() {
    const pid_t fwd = forwarder_tid();
    if (const auto here = this_cpu(); here && fwd > 0) (void)::sched_setaffinity(fwd, sizeof *here, &*here);
}

void Process::every_period() {
    if (time::Timekeeper* tk = driven_tk_.load(std::memory_order_acquire)) tk->tick();
    // A forked process ends when the root does (the root's pidfd is
    // readable once it has exited, even by SIGKILL).
    if (root_pidfd_ >= 0) {
        pollfd pf{root_pidfd_, POLLIN, 0};
        if (::poll(&pf, 1, 0) > 0 && (pf.revents & (POLLIN | POLLHUP))) ::kill(self_pid(), SIGKILL);
    }
}

void Process::forward_host_signals() {
    // The forwarded signals are blocked in this thread as in every other
    // (block_forwarded_signals): sigwaitinfo/sigtimedwait take them from
    // this thread's and the process's pending sets, as a signalfd read did.
    const sigset_t s = forwarded_set();
    forwarder_tid_.store(static_cast<pid_t>(::gettid()));
    // A forked process: every period, every_period() (see the top).
    const bool periodic = !root_;
    using Clock = std::chrono::steady_clock;
    const auto period = time::Timekeeper::kDefaultPeriod;
    auto next = Clock::now() + period;
    if (periodic) every_period();  // the root may be gone already
    for (;;) {
        siginfo_t si{};
        int sig;
        if (periodic) {
            const auto now = Clock::now();
            if (now >= next) {
                every_period();
                next = now + period;
            }
            const auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(next - now);
            const timespec ts{static_cast<time_t>(left.count() / 1'000'000'000),
                              static_cast<long>(left.count() % 1'000'000'000)};
            sig = ::sigtimedwait(&s, &si, &ts);
        } else {
            sig = ::sigwaitinfo(&s, &si);
        }
        if (sig < 0) continue;  // EAGAIN (the period is up) or EINTR (a stop/continue)
        // child_reported's marker: every SIGCHLD taken before it is posted.
        // (tgkill's si_code is SI_TKILL, or SI_USER on some kernels, 6.18's.)
        if (sig == SIGCHLD && (si.si_code == SI_TKILL || si.si_code == SI_USER) && si.si_pid == self_pid()) {
            chld_sync_ack_.store(chld_sync_req_.load());
            ::syscall(SYS_futex, &chld_sync_ack_, FUTEX_WAKE_PRIVATE, INT32_MAX, nullptr, nullptr, 0);
            continue;
        }
        // A host CPU-time timer's expiry (signals/posix_timers.hpp), not a
        // signal for the guest as such.
        if (const auto v = reinterpret_cast<uint64_t>(si.si_value.sival_ptr);
            si.si_code == SI_TIMER && (v & ~PosixTimers::kHostTimerIdMask) == PosixTimers::kHostTimerTag) {
            posix_timers_.fire(static_cast<int>(v & PosixTimers::kHostTimerIdMask), si.si_overrun);
            continue;
        }
        if (sig == SIGCHLD) {
            const KernelSigaction a = signals_.get(SIGCHLD);
            if (a.handler == reinterpret_cast<uint64_t>(SIG_IGN) || (a.flags & SA_NOCLDWAIT))
                while (::waitpid(-1, nullptr, WNOHANG) > 0) {
                }
        }
        (void)send_signal(nullptr, sig, 0, guest_siginfo(sig, si, last_stop_.load()));
        if (sig == SIGCONT) host_continues_.fetch_add(1);
    }
}

uint64_t Process::host_continues() const { return host_continues_.load(); }

void Process::continued(GuestThread& self, uint64_t continues_before) {
    // Linux delivers SIGCONT as the process resumes: its handler runs
    // before the stopped thread's code does. The kernel queued a host
    // SIGCONT when it continued the process; take it here if the forwarder
    // has not, or wait (at most 1 s) until the forwarder has posted it.
    siginfo_t si{};
    if (take_pending_host(SIGCONT, si)) {
        (void)send_signal(&self, SIGCONT, 0, {si.si_code, si.si_pid, si.si_uid});
        return;
    }
    for (int i = 0; i < 1000 && host_continues_.load() == continues_before; ++i) ::usleep(1000);
}

void Process::child_reported(GuestThread& self, pid_t child, int stop_signal) {
    // A reported stop, for the SIGCHLD that Linux's race may give si_status
    // 0 (guest_siginfo). Stored before the marker below, so the forwarder
    // sees it when it passes the SIGCHLD that comes after the wait.
    if (stop_signal > 0) last_stop_.store(pack_stop(child, stop_signal));
    // Linux queues a child's SIGCHLD before it wakes the parent's wait
    // (exit_notify, do_notify_parent), so the handler runs as the wait
    // returns, and programs count on it (dash runs its CHLD trap once per
    // command; a handler's si_status is read after waitpid). The host's
    // SIGCHLD came to this process the same way, and is either still
    // pending (taken here), or taken by the forwarder. In that case this
    // thread waits, at most 1 s, until the forwarder has passed a marker
    // (forwarder_barrier). Nothing to wait for where no guest code can tell (SIGCHLD's
    // action is the default or ignore, and this thread does not block it
    // to wait for it).
    const KernelSigaction a = signals_.get(SIGCHLD);
    const bool ignored = a.handler == reinterpret_cast<uint64_t>(SIG_IGN) || (a.flags & SA_NOCLDWAIT);
    const bool observed = a.handler != reinterpret_cast<uint64_t>(SIG_DFL) && !ignored;
    if (!observed && !(self.row().sigmask.load() & sig_bit(SIGCHLD))) return;
    siginfo_t si{};
    if (take_pending_host(SIGCHLD, si)) {
        if (ignored)
            while (::waitpid(-1, nullptr, WNOHANG) > 0) {
            }
        (void)send_signal(&self, SIGCHLD, 0, guest_siginfo(SIGCHLD, si, last_stop_.load()));
        return;
    }
    forwarder_barrier();
}

void Process::forwarder_barrier() {
    // The marker is a host SIGCHLD tgkill'd to the forwarder from this pid,
    // which no other sender makes (the guest's kill of itself never becomes
    // a host signal). Thread-directed, it does not merge with a
    // process-directed SIGCHLD; the forwarder handles one signal at a time,
    // so every signal it took before the marker is posted when it acks.
    const pid_t fwd = forwarder_tid();
    if (fwd <= 0) return;
    const uint32_t ticket = chld_sync_req_.fetch_add(1) + 1;
    if (::syscall(SYS_tgkill, self_pid(), fwd, SIGCHLD) != 0) return;
    for (int i = 0; i < 10; ++i) {
        const uint32_t seen = chld_sync_ack_.load();
        if (static_cast<int32_t>(seen - ticket) >= 0) return;
        const timespec tenth{0, 100'000'000};
        ::syscall(SYS_futex, &chld_sync_ack_, FUTEX_WAIT_PRIVATE, seen, &tenth, nullptr, 0);
    }
}

void Process::settle_host_signal(GuestThread& self, int sig) {
    // Linux delivers a signal pending when a call returns on the way out:
    // one the host raised before the call (a CPU-time timer's expiry before
    // setitimer disarmed it) reaches the guest before the call returns, not
    // after (gp cpu_itimers counted one "after it was disarmed" in ~1 of 20
    // runs). Still pending: taken and posted here. Already taken by the
    // forwarder: posted before the marker is passed.
    siginfo_t si{};
    if (take_pending_host(sig, si)) (void)send_signal(&self, sig, 0, guest_siginfo(sig, si, last_stop_.load()));
    forwarder_barrier();
}

void Process::release_robust_futexes(const ThreadRow& row) {
    // Spread over hosts the list and its locks may be in pages another node
    // holds, and that node's failure must not hold up an exit: not walked
    // there (departures.md, "Thread exit").
    if (cfg_.remote || row.robust_list == 0 || row.robust_list_len != kRobustListHeadLen) return;
    RobustListAccess a;
    a.read64 = [this](uint64_t addr) -> std::optional<uint64_t> {
        auto v = mem_.read<uint64_t>(addr);
        return v ? std::optional<uint64_t>(*v) : std::nullopt;
    };
    a.read32 = [this](uint64_t addr) -> std::optional<uint32_t> {
        const uint8_t* w = mem_.ptr(addr, 4);
        if (!w) return std::nullopt;
        return std::atomic_ref<const uint32_t>(*reinterpret_cast<const uint32_t*>(w)).load();
    };
    a.cas32 = [this](uint64_t addr, uint32_t expected, uint32_t desired) {
        uint8_t* w = mem_.wptr(addr, 4);
        return w && std::atomic_ref<uint32_t>(*reinterpret_cast<uint32_t*>(w)).compare_exchange_strong(expected, desired);
    };
    a.wake_one = [this](uint64_t addr) {
        // A lock in a MAP_SHARED mapping has its waiters on the host futex
        // (host_futex): another process's too. Linux wakes with a shared
        // key, which reaches those and this process's.
        if (in_shared_mapping(addr)) {
            if (uint8_t* w = mem_.ptr(addr, 4)) ::syscall(SYS_futex, w, FUTEX_WAKE, 1, nullptr, nullptr, 0);
        }
        futexes_.wake(addr, 1, FUTEX_BITSET_MATCH_ANY);
    };
    (void)release_robust_list(row.robust_list, static_cast<uint32_t>(row.tid), a);
}

void Process::end_descendants() {
    for (;;) {
        // No child left (a run that never forked, or all reaped): done,
        // without reading every process's /proc/PID/stat (milliseconds on
        // a busy host, at the end of every run).
        const pid_t z = ::waitpid(-1, nullptr, __WALL | WNOHANG);
        if (z < 0 && errno == ECHILD) return;
        if (z != 0) continue;  // reaped one (or EINTR): look again
        for (pid_t c : children_of(pid_)) ::kill(c, SIGKILL);
        const pid_t r = ::waitpid(-1, nullptr, __WALL);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return;  // ECHILD: no descendant is left
    }
}

void Process::die_of_signal(int sig) {
    // No core file of spanvm itself (its guest RAM would be in it).
    (void)::prctl(PR_SET_DUMPABLE, 0);
    ::signal(sig, SIG_DFL);
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    ::pthread_sigmask(SIG_UNBLOCK, &s, nullptr);
    ::raise(sig);
}

}  // namespace spanvm::process
