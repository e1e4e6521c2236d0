// Emulated process syscalls, POSIX timers: timer_create, timer_settime,
// timer_gettime, timer_getoverrun, timer_delete (signals/posix_timers.hpp
// runs them; an expiry is a guest signal with SI_TIMER siginfo).
//
// As Linux: a NULL sigevent is SIGEV_SIGNAL with SIGALRM and the timer id
// as its value; SIGEV_THREAD_ID names a thread of the process; SIGEV_THREAD
// is the C library's (glibc makes it SIGEV_THREAD_ID to a helper thread),
// so the kernel and spanvm refuse it (EINVAL). CPU-time clocks are host
// timers (signals/posix_timers.hpp). Departures
// (docs/architecture/departures.md): CPU-time clocks are refused in a
// program spread over hosts (EINVAL, one line), an absolute realtime
// expiry becomes a delay when it is set. An expiry while the timer's
// signal is pending counts as its overrun (SignalTable::post), which
// timer_getoverrun reports.
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>

#include <chrono>

#include "vmm/process/process.hpp"
#include "vmm/process/syscalls/process_syscalls_detail.hpp"
#include "vmm/process/threads/guest_thread.hpp"

namespace spanvm::process::detail {

namespace {

constexpr int kSigevSignal = SIGEV_SIGNAL, kSigevNone = SIGEV_NONE, kSigevThreadId = SIGEV_THREAD_ID;
constexpr int64_t kNsPerSec = 1000000000;

// struct sigevent (64 bytes): sigev_value, sigev_signo, sigev_notify, then
// the union whose first int is SIGEV_THREAD_ID's tid.
struct GuestSigevent {
    uint64_t value;
    int32_t signo;
    int32_t notify;
    int32_t tid;
    int32_t pad[11];
};
static_assert(sizeof(GuestSigevent) == 64);

bool timer_clock(uint64_t clock) {
    switch (static_cast<clockid_t>(clock)) {
        case CLOCK_REALTIME: case CLOCK_MONOTONIC: case CLOCK_BOOTTIME: case CLOCK_REALTIME_ALARM:
        case CLOCK_BOOTTIME_ALARM:
            return true;
        default:
            return false;
    }
}

bool realtime(uint64_t clock) {
    return static_cast<clockid_t>(clock) == CLOCK_REALTIME || static_cast<clockid_t>(clock) == CLOCK_REALTIME_ALARM;
}

IntervalTimer::Duration from_timespec(const struct timespec& ts) {
    return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}
struct timespec to_timespec(IntervalTimer::Duration d) {
    struct timespec ts {};
    ts.tv_sec = d.count() / kNsPerSec;
    ts.tv_nsec = d.count() % kNsPerSec;
    return ts;
}
bool valid(const struct timespec& ts) { return ts.tv_sec >= 0 && ts.tv_nsec >= 0 && ts.tv_nsec < kNsPerSec; }

// Linux's CPU clock ids (include/linux/posix-timers.h): the pid or tid in
// the bits above the low three, inverted; the low two bits the clock type
// (CPUCLOCK_PROF, CPUCLOCK_VIRT, CPUCLOCK_SCHED), bit 2 per thread.
constexpr int kCpuClockTypeMask = 3, kCpuClockPerThread = 4, kCpuClockMax = 3;
bool cpu_clock(clockid_t c) { return c == CLOCK_PROCESS_CPUTIME_ID || c == CLOCK_THREAD_CPUTIME_ID || c < 0; }

// The host clock of a CPU-time timer the caller may make (Linux: on its own
// process or one of its threads): CLOCK_PROCESS_CPUTIME_ID and
// CLOCK_THREAD_CPUTIME_ID are the caller's host process and thread; an
// encoded id names the guest's pid (the host's) or a thread of it, whose
// host tid replaces the guest tid. -EINVAL otherwise.
int64_t host_cpu_clock(GuestThread& t, clockid_t c, clockid_t* out) {
    Process& p = t.process();
    if (c == CLOCK_PROCESS_CPUTIME_ID || c == CLOCK_THREAD_CPUTIME_ID) {
        *out = c;
        return 0;
    }
    if ((c & kCpuClockTypeMask) == kCpuClockMax) return -EINVAL;
    const auto id = static_cast<pid_t>(~(c >> 3));
    if (!(c & kCpuClockPerThread)) {
        if (id != 0 && id != p.pid()) return -EINVAL;
        *out = c;
        return 0;
    }
    const int host = p.host_tid_of(id == 0 ? t.row().tid : id);
    if (host <= 0) return -EINVAL;
    *out = static_cast<clockid_t>((~static_cast<clockid_t>(host) << 3) | (c & 7));
    return 0;
}

int64_t sys_timer_create(GuestThread& t, const SyscallRequest& r) {
    Process& p = t.process();
    const uint64_t clock = r.args[0];
    clockid_t host_clock = 0;
    const bool on_host = cpu_clock(static_cast<clockid_t>(clock));
    if (on_host) {
        // Departure: a thread on another node runs on another host's CPU.
        if (p.config().remote) {
            p.report_unsupported_feature("timer_create on a CPU-time clock in a program spread over hosts");
            return -EINVAL;
        }
        if (int64_t e = host_cpu_clock(t, static_cast<clockid_t>(clock), &host_clock); e != 0) return e;
    } else if (!timer_clock(clock)) {
        return -EINVAL;
    }
    PosixTimers::Event ev{SIGALRM, 0, 0};
    bool value_is_id = true;
    if (r.args[1]) {
        auto se = p.mem().read<GuestSigevent>(r.args[1]);
        if (!se) return -EFAULT;
        value_is_id = false;
        ev.value = se->value;
        switch (se->notify) {
            case kSigevNone:
                ev.signo = 0;
                break;
            case kSigevThreadId | kSigevSignal:
                if (!p.threads().find_live(se->tid)) return -EINVAL;
                ev.tid = se->tid;
                [[fallthrough]];
            case kSigevSignal:
                if (se->signo <= 0 || se->signo > SignalTable::kMaxSignal) return -EINVAL;
                ev.signo = se->signo;
                break;
            default:
                return -EINVAL;
        }
    }
    auto& timers = p.posix_timers();
    std::optional<int> id;
    if (on_host) {
        const pid_t forwarder = p.forwarder_tid();
        if (forwarder == 0) return -EAGAIN;
        const int made = timers.create_on_host(ev, clock, value_is_id, host_clock, forwarder);
        if (made < 0) return made;
        id = made;
    } else {
        id = timers.create(ev, clock, value_is_id);
    }
    if (!id) return -EAGAIN;
    if (!p.mem().write(r.args[2], static_cast<int32_t>(*id))) {
        timers.remove(*id);
        return -EFAULT;
    }
    return 0;
}

int64_t sys_timer_settime(GuestThread& t, const SyscallRequest& r) {
    Process& p = t.process();
    const int id = static_cast<int>(r.args[0]);
    const int flags = static_cast<int>(r.args[1]);
    if (flags & ~TIMER_ABSTIME) return -EINVAL;
    auto nv = p.mem().read<struct itimerspec>(r.args[2]);
    if (!nv) return -EFAULT;
    if (!valid(nv->it_value) || !valid(nv->it_interval)) return -EINVAL;
    auto& timers = p.posix_timers();
    const auto clock = timers.clock_of(id);
    if (!clock) return -EINVAL;
    if (timers.on_host(id)) {
        struct itimerspec ov {};
        if (int e = timers.set_on_host(id, flags, *nv, &ov); e != 0) return e;
        return r.args[3] && !p.mem().write(r.args[3], ov) ? -EFAULT : 0;
    }
    IntervalTimer::Duration value = from_timespec(nv->it_value);
    if ((flags & TIMER_ABSTIME) && value.count() > 0) {
        // An absolute time on the timer's clock becomes a delay now (an
        // expiry already past fires at once: 1 ns).
        struct timespec now {};
        ::clock_gettime(realtime(*clock) ? CLOCK_REALTIME : CLOCK_MONOTONIC, &now);
        value -= from_timespec(now);
        if (value.count() <= 0) value = IntervalTimer::Duration{1};
    }
    auto old = timers.set(id, {value, from_timespec(nv->it_interval)});
    if (!old) return -EINVAL;
    if (r.args[3]) {
        struct itimerspec ov {};
        ov.it_value = to_timespec(old->value);
        ov.it_interval = to_timespec(old->interval);
        if (!p.mem().write(r.args[3], ov)) return -EFAULT;
    }
    return 0;
}

int64_t sys_timer_gettime(GuestThread& t, const SyscallRequest& r) {
    Process& p = t.process();
    auto v = p.posix_timers().get(static_cast<int>(r.args[0]));
    if (!v) return -EINVAL;
    struct itimerspec ov {};
    ov.it_value = to_timespec(v->value);
    ov.it_interval = to_timespec(v->interval);
    return p.mem().write(r.args[1], ov) ? 0 : -EFAULT;
}

int64_t sys_timer_getoverrun(GuestThread& t, const SyscallRequest& r) {
    const int id = static_cast<int>(r.args[0]);
    if (!t.process().posix_timers().get(id)) return -EINVAL;
    return t.process().signals().timer_overrun(id);
}

int64_t sys_timer_delete(GuestThread& t, const SyscallRequest& r) {
    const int id = static_cast<int>(r.args[0]);
    if (!t.process().posix_timers().remove(id)) return -EINVAL;
    t.process().signals().forget_timer(id);
    return 0;
}

}  // namespace

void register_process_timers(ProcessHandlerTable& t) {
    t.add(SYS_timer_create, sys_timer_create);
    t.add(SYS_timer_settime, sys_timer_settime);
    t.add(SYS_timer_gettime, sys_timer_gettime);
    t.add(SYS_timer_getoverrun, sys_timer_getoverrun);
    t.add(SYS_timer_delete, sys_timer_delete);
}

}  // namespace spanvm::process::detail
