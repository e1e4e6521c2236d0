// Emulated process syscalls, misc: pid and tid (groups, sessions and child
// waits are in process_syscalls_children.cpp), resource limits, uname, CPU affinity and
// scheduling, arch_prctl, personality and prctl.
#include <asm/prctl.h>
#include <sched.h>
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
int64_t guest_prlimit(Process& p, const SyscallRequest& r) {
    if (r.args[0] != 0 && static_cast<pid_t>(r.args[0]) != p.pid()) return -ESRCH;
    const int res = static_cast<int>(r.args[1]);
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
        // Other limits are recorded nowhere: the guest's memory and stack
        // are bounded by --mem, not by rlimits.
    }
    if (r.args[3] && !p.mem().write(r.args[3], cur)) return -EFAULT;
    return 0;
}

int64_t sys_sched_getaffinity(GuestThread& t, const SyscallRequest& r) {
    Process& p = t.process();
    const uint64_t len = r.args[1];
    const unsigned n = p.config().vcpus;
    const uint64_t bytes = ((n + 63) / 64) * 8;
    if (len < bytes || (len & 7)) return -EINVAL;
    uint8_t* out = p.mem().wptr(r.args[2], bytes);
    if (!out) return -EFAULT;
    std::memset(out, 0, bytes);
    for (unsigned i = 0; i < n; ++i) out[i / 8] |= static_cast<uint8_t>(1u << (i % 8));
    return static_cast<int64_t>(bytes);
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

// Placement is spanvm's, not the guest's.
int64_t sys_sched_setaffinity(GuestThread&, const SyscallRequest&) { return 0; }

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

// PR_SET_NAME / PR_GET_NAME: the name of the host thread that runs (or, for
// a thread on another node, executes the calls of) this guest thread; execve
// sets it as Linux does. Other options: accepted, no effect.
int64_t sys_prctl(GuestThread& t, const SyscallRequest& r) {
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
        return ::prctl(PR_SET_NAME, name.data()) == 0 ? 0 : -errno;
    }
    return 0;
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
