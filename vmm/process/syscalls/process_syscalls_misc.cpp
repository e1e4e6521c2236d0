// Emulated process syscalls, misc: pid and tid (groups, sessions and child
// waits are in process_syscalls_children.cpp), resource limits, uname, CPU affinity and
// scheduling, arch_prctl, personality and prctl (nice values and policies:
// process_syscalls_sched.cpp).
#include <asm/prctl.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "vmm/process/process.hpp"
#include "vmm/process/syscalls/process_syscalls_detail.hpp"
#include "vmm/process/threads/guest_thread.hpp"

namespace spanvm::process::detail {

namespace {

// prlimit64 for the guest process (getrlimit/setrlimit are rewritten to it).
// As in Linux, the new limit is read and checked first and the old one is
// written last, only on success (so new == old reads the new value).
// Limits the host enforces on the spanvm process as the kernel would on the
// guest's: CPU time (SIGXCPU, forwarded), file size (SIGXFSZ), core size,
// processes, locks, pending signals, message queues, nice and real-time
// priority ceilings. A set one is set on the host process (and inherited
// across fork, as Linux's). STACK, AS, DATA and NOFILE are the guest's own
// (--mem, the guest's stack, its fd table).
bool host_enforced_limit(int res) {
    switch (res) {
        case RLIMIT_CPU: case RLIMIT_FSIZE: case RLIMIT_CORE: case RLIMIT_NPROC: case RLIMIT_MEMLOCK:
        case RLIMIT_LOCKS: case RLIMIT_SIGPENDING: case RLIMIT_MSGQUEUE: case RLIMIT_NICE: case RLIMIT_RTPRIO:
        case RLIMIT_RTTIME:
            return true;
        default:
            return false;
    }
}

int64_t guest_prlimit(Process& p, const SyscallRequest& r) {
    const int res = static_cast<int>(r.args[1]);
    if (r.args[0] != 0 && static_cast<pid_t>(r.args[0]) != p.pid()) {
        // Another guest process (a host process: guest pid == host pid):
        // the host's limits of it. Its own limits (NOFILE, STACK, AS, DATA)
        // are its tables', which this process cannot see: the host's are
        // reported, and set only where the host enforces them.
        if (r.args[2] && !host_enforced_limit(res)) return -EPERM;
        const uint8_t* nl = r.args[2] ? p.mem().ptr(r.args[2], sizeof(struct rlimit)) : nullptr;
        uint8_t* old = r.args[3] ? p.mem().wptr(r.args[3], sizeof(struct rlimit)) : nullptr;
        if ((r.args[2] && !nl) || (r.args[3] && !old)) return -EFAULT;
        const long rc = ::syscall(SYS_prlimit64, static_cast<pid_t>(r.args[0]), res, nl, old);
        return rc < 0 ? -errno : 0;
    }
    struct rlimit nl {};
    if (r.args[2]) {
        auto v = p.mem().read<struct rlimit>(r.args[2]);
        if (!v) return -EFAULT;
        nl = *v;
    }
    struct rlimit cur {};
    switch (res) {
        case RLIMIT_STACK: cur = {memory::layout::kDefaultStackSize, RLIM_INFINITY}; break;
        case RLIMIT_NOFILE: {
            // The soft limit is the guest table's; the hard one the host's.
            struct rlimit host {};
            const rlim_t hard = ::getrlimit(RLIMIT_NOFILE, &host) == 0 ? host.rlim_max : FdTable::kMaxLimit;
            cur = {static_cast<rlim_t>(p.fds().limit()), std::min<rlim_t>(hard, FdTable::kMaxLimit)};
            break;
        }
        case RLIMIT_AS:
        case RLIMIT_DATA: cur = {p.config().mem_size, p.config().mem_size}; break;
        default:
            if (::getrlimit(res, &cur) != 0) return -errno;
    }
    if (r.args[2]) {
        if (nl.rlim_cur > nl.rlim_max) return -EINVAL;
        if (res == RLIMIT_NOFILE) p.fds().set_limit(static_cast<int>(std::min<rlim_t>(nl.rlim_cur, FdTable::kMaxLimit)));
        if (host_enforced_limit(res) && ::setrlimit(res, &nl) != 0) return -errno;
        // STACK, AS and DATA are recorded nowhere: the guest's memory and
        // stack are bounded by --mem, not by rlimits.
    }
    if (r.args[3] && !p.mem().write(r.args[3], cur)) return -EFAULT;
    return 0;
}

// CPU affinity: the guest's CPUs are --vcpus; which host CPU runs a vCPU
// is spanvm's placement. A mask the guest sets is the process's (a
// departure: Linux's is per thread) and reads back as set, so that
// `taskset -c 0 nproc` prints 1; it does not pin any host thread.
// Which mask `pid` (a tid, 0: the caller) names: this process's (0, its
// pid or one of its threads), another live process's (read as every guest
// CPU, its own mask being that process's record; set: not recorded), or
// none: ESRCH, as Linux answers a pid that names no task (-1 included).
enum class AffinityOf { self, other, none };
AffinityOf affinity_target(GuestThread& t, pid_t pid) {
    Process& p = t.process();
    if (pid == 0 || pid == p.pid() || p.threads().find_live(pid)) return AffinityOf::self;
    if (pid < 0) return AffinityOf::none;
    return ::kill(pid, 0) == 0 || errno == EPERM ? AffinityOf::other : AffinityOf::none;
}

int64_t sys_sched_getaffinity(GuestThread& t, const SyscallRequest& r) {
    Process& p = t.process();
    const uint64_t len = r.args[1];
    const unsigned n = p.config().vcpus;
    const uint64_t bytes = ((n + 63) / 64) * 8;
    if (len < bytes || (len & 7)) return -EINVAL;
    const AffinityOf of = affinity_target(t, static_cast<pid_t>(r.args[0]));
    if (of == AffinityOf::none) return -ESRCH;
    uint8_t* out = p.mem().wptr(r.args[2], bytes);
    if (!out) return -EFAULT;
    std::memset(out, 0, bytes);
    Process::CpuMask mask{};
    if (of == AffinityOf::self)
        mask = p.guest_affinity();
    else
        for (unsigned i = 0; i < n && i < 64 * mask.size(); ++i) mask[i / 64] |= uint64_t{1} << (i % 64);
    for (unsigned i = 0; i < n; ++i)
        if (mask[i / 64] & (uint64_t{1} << (i % 64))) out[i / 8] |= static_cast<uint8_t>(1u << (i % 8));
    return static_cast<int64_t>(bytes);
}

int64_t sys_sched_setaffinity(GuestThread& t, const SyscallRequest& r) {
    Process& p = t.process();
    const uint64_t len = std::min<uint64_t>(r.args[1], sizeof(Process::CpuMask));
    Process::CpuMask mask{};
    if (len) {
        const uint8_t* src = p.mem().ptr(r.args[2], len);
        if (!src) return -EFAULT;
        std::memcpy(mask.data(), src, len);
    }
    const unsigned n = p.config().vcpus;
    Process::CpuMask valid{};
    for (unsigned i = 0; i < n && i < 64 * valid.size(); ++i) valid[i / 64] |= uint64_t{1} << (i % 64);
    bool any = false;
    for (size_t i = 0; i < mask.size(); ++i) any |= (mask[i] &= valid[i]) != 0;
    const AffinityOf of = affinity_target(t, static_cast<pid_t>(r.args[0]));
    if (of == AffinityOf::none) return -ESRCH;
    if (!any) return -EINVAL;  // no CPU of the guest's in it, as Linux
    if (of == AffinityOf::self) p.set_guest_affinity(mask);
    return 0;
}

int64_t sys_arch_prctl(GuestThread& t, const SyscallRequest& r) {
    Process& p = t.process();
    switch (r.args[0]) {
        case ARCH_SET_FS: return t.set_fs_base(r.args[1]) ? 0 : -EINVAL;
        case ARCH_SET_GS: return t.set_gs_base(r.args[1]) ? 0 : -EINVAL;
        case ARCH_GET_FS:
        case ARCH_GET_GS: {
            auto v = r.args[0] == ARCH_GET_FS ? t.fs_base() : t.gs_base();
            if (!v) return -EINVAL;
            return p.mem().write(r.args[1], *v) ? 0 : -EFAULT;
        }
        default: return -EINVAL;
    }
}

int64_t sys_prlimit64(GuestThread& t, const SyscallRequest& r) { return guest_prlimit(t.process(), r); }

int64_t sys_getrlimit(GuestThread& t, const SyscallRequest& r) {
    return guest_prlimit(t.process(), SyscallRequest{SYS_prlimit64, {0, r.args[0], 0, r.args[1], 0, 0}});
}

int64_t sys_setrlimit(GuestThread& t, const SyscallRequest& r) {
    return guest_prlimit(t.process(), SyscallRequest{SYS_prlimit64, {0, r.args[0], r.args[1], 0, 0, 0}});
}

int64_t sys_getpid(GuestThread& t, const SyscallRequest&) { return t.process().pid(); }
int64_t sys_gettid(GuestThread& t, const SyscallRequest&) { return t.row().tid; }
int64_t sys_uname(GuestThread& t, const SyscallRequest& r) {
    auto* u = t.process().mem().ptr(r.args[0], sizeof(struct utsname));
    if (!u) return -EFAULT;
    return ::uname(reinterpret_cast<struct utsname*>(u)) == 0 ? 0 : -errno;
}


int64_t sys_sched_yield(GuestThread&, const SyscallRequest&) {
    ::sched_yield();
    return 0;
}

int64_t sys_getcpu(GuestThread& t, const SyscallRequest& r) {
    Process& p = t.process();
    const uint32_t cpu = t.row().vcpu_id.load() % std::max(1u, p.config().vcpus), node = 0;
    if (r.args[0] && !p.mem().write(r.args[0], cpu)) return -EFAULT;
    if (r.args[1] && !p.mem().write(r.args[1], node)) return -EFAULT;
    return 0;
}

int64_t sys_personality(GuestThread&, const SyscallRequest&) { return 0; }

// prctl options the host answers for the spanvm process as Linux would for
// the guest's (a guest process is a host process): integer arguments only.
bool host_prctl_option(uint64_t op) {
    switch (op) {
        case PR_SET_PDEATHSIG: case PR_SET_NO_NEW_PRIVS: case PR_GET_NO_NEW_PRIVS:
        case PR_SET_DUMPABLE: case PR_GET_DUMPABLE: case PR_SET_TIMERSLACK: case PR_GET_TIMERSLACK:
        case PR_CAPBSET_READ: case PR_SET_KEEPCAPS: case PR_GET_KEEPCAPS: case PR_SET_THP_DISABLE:
        case PR_GET_THP_DISABLE: case PR_GET_SECUREBITS: case PR_MCE_KILL: case PR_MCE_KILL_GET:
        case PR_GET_TIMING:
            return true;
        default:
            return false;
    }
}

// PR_SET_NAME / PR_GET_NAME: the name of the host thread that runs (or, for
// a thread on another node, executes the calls of) this guest thread, and
// for the main thread the process's (its leader's); execve sets it as Linux
// does. PR_GET_PDEATHSIG writes the host's answer; the
// options of host_prctl_option are the host's.
// PR_SET_VMA (naming anonymous memory) and PR_SET_PTRACER are accepted with
// no effect. PR_SET_SECCOMP and PR_GET_SECCOMP are spanvm's own
// (process_syscalls_seccomp.cpp). Any other option: EINVAL.
int64_t sys_prctl(GuestThread& t, const SyscallRequest& r) {
    const uint64_t op = r.args[0];
    if (host_prctl_option(op)) {
        const long rc = ::syscall(SYS_prctl, op, r.args[1], r.args[2], r.args[3], r.args[4]);
        return rc < 0 ? -errno : rc;
    }
    if (op == PR_GET_PDEATHSIG) {
        int v = 0;
        if (::prctl(PR_GET_PDEATHSIG, &v) != 0) return -errno;
        return t.process().mem().write(r.args[1], v) ? 0 : -EFAULT;
    }
    // The run's own process is a host subreaper whatever the guest says
    // (Process::create): the guest's flag is kept apart, and set on the
    // host for the other processes, whose orphans the host reparents.
    if (op == PR_SET_CHILD_SUBREAPER) {
        const bool on = r.args[1] != 0;
        if (!t.process().is_root() && ::prctl(PR_SET_CHILD_SUBREAPER, on ? 1 : 0) != 0) return -errno;
        t.process().set_guest_subreaper(on);
        return 0;
    }
    if (op == PR_GET_CHILD_SUBREAPER)
        return t.process().mem().write(r.args[1], int{t.process().guest_subreaper() ? 1 : 0}) ? 0 : -EFAULT;
    if (op == PR_SET_VMA || op == PR_SET_PTRACER) return 0;
    if (op == PR_SET_SECCOMP || op == PR_GET_SECCOMP) return seccomp_prctl(t, r);
    if (op != PR_GET_NAME && op != PR_SET_NAME) return -EINVAL;
    std::array<char, 16> name{};
    if (r.args[0] == PR_GET_NAME) {
        if (::prctl(PR_GET_NAME, name.data()) != 0) return -errno;
        return t.process().mem().write(r.args[1], name) ? 0 : -EFAULT;
    }
    if (r.args[0] == PR_SET_NAME) {
        // Linux copies at most the first 15 bytes; a longer name is cut.
        auto s = t.process().mem().cstring(r.args[1], name.size());
        if (s) {
            std::copy_n(s->data(), s->size(), name.data());
        } else if (const uint8_t* p = t.process().mem().ptr(r.args[1], name.size() - 1);
                   p && s.error().code == ENAMETOOLONG) {
            std::memcpy(name.data(), p, name.size() - 1);
        } else {
            return -EFAULT;
        }
        if (::prctl(PR_SET_NAME, name.data()) != 0) return -errno;
        // The process's name (/proc/PID/comm, ps) is its leader's: in the
        // run's own process the guest's main thread is not the host's
        // leader (a host thread of spanvm's waits there), so its name is
        // set there too, as name_task does at exec. A forked process's
        // leader is the guest thread that forked.
        if (t.process().is_root() && t.row().tid == t.process().pid())
            if (const int fd = ::open("/proc/self/comm", O_WRONLY | O_CLOEXEC); fd >= 0) {
                (void)!::write(fd, name.data(), ::strnlen(name.data(), name.size()));
                ::close(fd);
            }
        return 0;
    }
    return -EINVAL;
}

}  // namespace

void register_process_misc(ProcessHandlerTable& t) {
    t.add(SYS_getpid, sys_getpid);
    t.add(SYS_gettid, sys_gettid);
    t.add(SYS_prlimit64, sys_prlimit64);
    t.add(SYS_getrlimit, sys_getrlimit);
    t.add(SYS_setrlimit, sys_setrlimit);
    t.add(SYS_uname, sys_uname);
    t.add(SYS_sched_getaffinity, sys_sched_getaffinity);
    t.add(SYS_sched_setaffinity, sys_sched_setaffinity);
    t.add(SYS_sched_yield, sys_sched_yield);
    t.add(SYS_getcpu, sys_getcpu);
    t.add(SYS_arch_prctl, sys_arch_prctl);
    t.add(SYS_personality, sys_personality);
    t.add(SYS_prctl, sys_prctl);
}

}  // namespace spanvm::process::detail
