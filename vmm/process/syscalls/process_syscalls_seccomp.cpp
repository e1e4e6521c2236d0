// Emulated process syscalls, seccomp: seccomp(2), prctl(PR_SET_SECCOMP,
// PR_GET_SECCOMP), and the check every call of a thread under seccomp meets
// before it is dispatched (seccomp_enforce, called by SyscallGate).
//
// spanvm runs the guest's filters itself (seccomp/seccomp_filter.hpp): a
// filter on the host thread would also filter spanvm's own calls. Linux's
// rules hold: strict mode allows read, write, exit and rt_sigreturn and
// kills the thread with SIGKILL at any other call; a filter needs
// no_new_privs or CAP_SYS_ADMIN, is inherited by new threads and forked
// processes and kept across execve; TSYNC puts it on every thread; the
// verdict of the chain decides: ALLOW and LOG run the call, ERRNO returns
// -data (at most 4095), TRAP raises SIGSYS (si_code SYS_SECCOMP, the call
// not made, RAX the call's number again), TRACE and USER_NOTIF return
// ENOSYS (there is no tracer and no listener), KILL_THREAD and KILL_PROCESS
// end the thread or the process with SIGSYS.
// Departures (docs/architecture/departures.md): SECCOMP_FILTER_FLAG_NEW_
// LISTENER is refused (EINVAL); /proc/PID/status shows the host's
// "Seccomp: 0"; in a program spread over hosts seccomp is refused (EINVAL),
// as its nodes answer some calls themselves; a thread that another thread's
// TSYNC reached answers the pass-through calls (getuid, getppid,
// sched_yield, ...) unfiltered until its next exit from the guest.
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "vmm/base/log.hpp"
#include "vmm/process/process.hpp"
#include "vmm/process/seccomp/seccomp_filter.hpp"
#include "vmm/process/syscalls/process_syscalls_detail.hpp"
#include "vmm/process/syscalls/syscall_names.hpp"
#include "vmm/process/threads/guest_thread.hpp"

namespace spanvm::process {

namespace {

namespace sc = seccomp;

constexpr long kMaxErrno = 4095;  // Linux's MAX_ERRNO
constexpr uint8_t kModeStrict = SECCOMP_MODE_STRICT;
constexpr uint8_t kModeFilter = SECCOMP_MODE_FILTER;
// SECCOMP_FILTER_FLAG_* that Linux 6.x knows.
constexpr uint64_t kFilterFlagsKnown = SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_LOG |
                                       SECCOMP_FILTER_FLAG_SPEC_ALLOW | SECCOMP_FILTER_FLAG_NEW_LISTENER |
                                       SECCOMP_FILTER_FLAG_TSYNC_ESRCH | (1UL << 5);  // WAIT_KILLABLE_RECV

// Linux: a filter needs no_new_privs, or CAP_SYS_ADMIN. The guest's
// no_new_privs is its host thread's (prctl passes it through).
bool may_install_filter() {
    if (::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1) return true;
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
    if (::syscall(SYS_capget, &hdr, data) != 0) return false;
    return (data[CAP_SYS_ADMIN / 32].effective & (1u << (CAP_SYS_ADMIN % 32))) != 0;
}

bool spread_over_hosts(GuestThread& t) { return t.process().config().remote != nullptr || t.remote_link(); }

int64_t set_mode_strict(GuestThread& t, uint64_t flags, uint64_t uargs) {
    if (flags || uargs) return -EINVAL;
    ThreadRow& row = t.row();
    const uint8_t mode = row.seccomp_mode.load();
    if (mode == kModeFilter) return -EINVAL;  // Linux: no change of mode once one is set
    if (spread_over_hosts(t)) {
        t.process().report_unsupported_feature("seccomp in a program spread over hosts: EINVAL");
        return -EINVAL;
    }
    row.seccomp_mode.store(kModeStrict, std::memory_order_release);
    return 0;
}

int64_t set_mode_filter(GuestThread& t, uint64_t flags, uint64_t uargs) {
    Process& p = t.process();
    if (flags & ~kFilterFlagsKnown) return -EINVAL;
    if ((flags & SECCOMP_FILTER_FLAG_TSYNC) && (flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) &&
        !(flags & SECCOMP_FILTER_FLAG_TSYNC_ESRCH))
        return -EINVAL;
    // No listener fds: a probe (null program) learns that quietly.
    if (flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) {
        if (uargs) p.report_unsupported_feature("seccomp user notification (SECCOMP_FILTER_FLAG_NEW_LISTENER): EINVAL");
        return -EINVAL;
    }
    if (!may_install_filter()) return -EACCES;
    // struct sock_fprog: u16 len, (pad), u64 filter.
    auto fprog = p.mem().read<std::array<uint64_t, 2>>(uargs);
    if (!fprog) return -EFAULT;
    const auto len = static_cast<uint16_t>((*fprog)[0]);
    if (len == 0 || len > BPF_MAXINSNS) return -EINVAL;
    std::vector<sc::SockFilter> prog(len);
    const uint8_t* src = p.mem().ptr((*fprog)[1], len * sizeof(sc::SockFilter));
    if (!src) return -EFAULT;
    static_assert(sizeof(sc::SockFilter) == 8);
    std::memcpy(prog.data(), src, len * sizeof(sc::SockFilter));
    if (auto why = sc::check(prog)) {
        log::debug("seccomp: filter refused: {}", *why);
        return -EINVAL;
    }
    ThreadRow& row = t.row();
    if (row.seccomp_mode.load() == kModeStrict) return -EINVAL;
    if (spread_over_hosts(t)) {
        p.report_unsupported_feature("seccomp in a program spread over hosts: EINVAL");
        return -EINVAL;
    }
    auto f = std::make_shared<sc::Filter>();
    f->prog = std::move(prog);
    f->prev = p.seccomp_filter_owner(row.seccomp_filter.load());
    f->log = (flags & SECCOMP_FILTER_FLAG_LOG) != 0;
    if (f->path_insns() > sc::kMaxInsnsPerPath) return -ENOMEM;
    const int other = p.install_seccomp_filter(row, std::move(f), (flags & SECCOMP_FILTER_FLAG_TSYNC) != 0);
    if (other) return (flags & SECCOMP_FILTER_FLAG_TSYNC_ESRCH) ? -ESRCH : other;
    return 0;
}

int64_t sys_seccomp(GuestThread& t, const SyscallRequest& r) {
    const uint64_t op = r.args[0], flags = r.args[1], uargs = r.args[2];
    switch (op) {
        case SECCOMP_SET_MODE_STRICT: return set_mode_strict(t, flags, uargs);
        case SECCOMP_SET_MODE_FILTER: return set_mode_filter(t, flags, uargs);
        case SECCOMP_GET_ACTION_AVAIL: {
            if (flags) return -EINVAL;
            auto action = t.process().mem().read<uint32_t>(uargs);
            if (!action) return -EFAULT;
            return sc::action_known(*action) ? 0 : -EOPNOTSUPP;
        }
        case SECCOMP_GET_NOTIF_SIZES: {
            if (flags) return -EINVAL;
            // struct seccomp_notif_sizes: seccomp_notif, seccomp_notif_resp, seccomp_data.
            const std::array<uint16_t, 3> sizes{80, 24, static_cast<uint16_t>(sc::kSeccompDataSize)};
            return t.process().mem().write(uargs, sizes) ? 0 : -EFAULT;
        }
        default:
            return -EINVAL;
    }
}

// The thread ends as Linux's do_exit(sig) would end it: alone when other
// threads live, else the whole process dies of `sig`.
void end_thread_by(GuestThread& t, int sig, const SyscallRequest& r) {
    if (t.process().threads().live_threads() > 1) {
        t.request_exit(0);
        return;
    }
    if (t.process().is_root())
        log::error("guest thread {} killed by SIG{}: seccomp refused {}", t.row().tid, sigabbrev_np(sig),
                   syscall_name(r.nr));
    t.process().exit_process_signal(sig);
}

}  // namespace

namespace detail {

int64_t seccomp_prctl(GuestThread& t, const SyscallRequest& r) {
    if (r.args[0] == PR_GET_SECCOMP) return t.row().seccomp_mode.load();
    switch (r.args[1]) {  // PR_SET_SECCOMP
        case SECCOMP_MODE_STRICT: return set_mode_strict(t, 0, 0);
        case SECCOMP_MODE_FILTER: return set_mode_filter(t, 0, r.args[2]);
        default: return -EINVAL;
    }
}

void register_process_seccomp(ProcessHandlerTable& t) { t.add(SYS_seccomp, sys_seccomp); }

}  // namespace detail

std::optional<int64_t> seccomp_enforce(GuestThread& t, const SyscallRequest& r) {
    ThreadRow& row = t.row();
    const uint8_t mode = row.seccomp_mode.load(std::memory_order_acquire);
    if (mode == 0) return std::nullopt;
    if (mode == kModeStrict) {
        switch (r.nr) {
            case SYS_read: case SYS_write: case SYS_exit: case SYS_rt_sigreturn: return std::nullopt;
            default: end_thread_by(t, SIGKILL, r); return int64_t{0};
        }
    }
    sc::SeccompData d;
    d.nr = static_cast<int32_t>(r.nr);
    d.arch = AUDIT_ARCH_X86_64;
    d.instruction_pointer = t.regs().rip;
    for (size_t i = 0; i < 6; ++i) d.args[i] = r.args[i];
    const uint32_t ret = sc::evaluate(row.seccomp_filter.load(std::memory_order_acquire), d);
    const uint32_t data = ret & SECCOMP_RET_DATA;
    switch (ret & SECCOMP_RET_ACTION_FULL) {
        case SECCOMP_RET_ALLOW:
        case SECCOMP_RET_LOG:
            return std::nullopt;
        case SECCOMP_RET_ERRNO:
            return -static_cast<int64_t>(std::min<long>(data, kMaxErrno));
        case SECCOMP_RET_TRACE:
        case SECCOMP_RET_USER_NOTIF:
            return int64_t{-ENOSYS};
        case SECCOMP_RET_TRAP: {
            // Linux rolls the call back (RAX = its number) and forces SIGSYS.
            t.regs().rax = r.nr;
            t.mark_regs_dirty();
            SigInfoFields info;
            info.code = sc::kSysSeccompCode;
            info.sys = true;
            info.sys_errno = static_cast<int32_t>(data);
            info.addr = t.regs().rip;
            info.syscall = static_cast<int32_t>(r.nr);
            info.arch = AUDIT_ARCH_X86_64;
            t.force_signal(SIGSYS, info);  // the handler's frame, its RAX the number
            return int64_t{0};
        }
        case SECCOMP_RET_KILL_THREAD:
            end_thread_by(t, SIGSYS, r);
            return int64_t{0};
        default:  // KILL_PROCESS, and any action Linux does not know
            if (t.process().is_root())
                log::error("guest thread {} killed by SIGSYS: seccomp refused {}", row.tid, syscall_name(r.nr));
            t.process().exit_process_signal(SIGSYS);
    }
}

}  // namespace spanvm::process
