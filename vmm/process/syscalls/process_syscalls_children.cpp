// Emulated process syscalls, processes: child waits (wait4, waitid), process
// groups and sessions, the parent's pid, and kill() of another process.
//
// A guest process is a spanvm host process and its pid is the host pid
// (process_fork.cpp), so these are the host's own calls on the same pids:
// the statuses wait4 reports are those the child spanvm exits or dies with
// (Process::exit_process_signal), and groups and sessions are the host's.
// In a program spread over hosts the same holds at the origin: its guest
// children are local processes there (process_fork_cluster.cpp) and the
// --local-hosts nodes are not its children (vmm/cli/local_hosts.hpp).
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <vector>

#include "vmm/base/latency_trace.hpp"
#include "vmm/process/process.hpp"
#include "vmm/process/syscalls/host_syscalls_detail.hpp"
#include "vmm/process/syscalls/process_syscalls_detail.hpp"
#include "vmm/process/threads/guest_thread.hpp"

namespace spanvm::process::detail {

namespace {

int64_t host_result(long r) { return r < 0 ? -errno : r; }

// A blocking host wait, with the thread shown as blocked; a kick (a guest
// signal) ends it with EINTR, which signal delivery may restart.
// The call is raw()'s, so that it is the kick-cancellable call the thread
// armed (host_syscalls.hpp may_block_in_host).
template <class F>
int64_t blocking(GuestThread& t, F&& f) {
    t.row().state = ThreadState::blocked;
    const int64_t r = f();
    t.row().state = ThreadState::in_syscall;
    return r;
}

int64_t sys_wait4(GuestThread& t, const SyscallRequest& r) {
    Process& p = t.process();
    const pid_t pid = static_cast<pid_t>(r.args[0]);
    const int options = static_cast<int>(r.args[2]);
    int own_status = 0;  // where the guest passes no status: the stop signal is still read
    int* status = &own_status;
    struct rusage* ru = nullptr;
    if (r.args[1] && !(status = reinterpret_cast<int*>(p.mem().ptr(r.args[1], sizeof(int))))) return -EFAULT;
    if (r.args[3] && !(ru = reinterpret_cast<struct rusage*>(p.mem().ptr(r.args[3], sizeof(struct rusage)))))
        return -EFAULT;
    const bool hang = !(options & WNOHANG);
    const auto began = hang ? p.child_wait_begin() : std::chrono::steady_clock::time_point{};
    const int64_t res = blocking(t, [&] { return raw(SYS_wait4, pid, P(status), options, P(ru)); });
    trace::mark("wait.ret");
    if (hang) p.child_wait_end(began);
    if (res > 0) p.child_reported(t, static_cast<pid_t>(res), WIFSTOPPED(*status) ? WSTOPSIG(*status) : 0);
    return res;
}

int64_t sys_waitid(GuestThread& t, const SyscallRequest& r) {
    Process& p = t.process();
    void* info = nullptr;
    void* ru = nullptr;
    if (r.args[2] && !(info = p.mem().ptr(r.args[2], sizeof(siginfo_t)))) return -EFAULT;
    if (r.args[4] && !(ru = p.mem().ptr(r.args[4], sizeof(struct rusage)))) return -EFAULT;
    // P_PIDFD names the child by a pidfd: the guest's fd, translated.
    uint64_t id = r.args[1];
    FdRef pidfd;
    if (static_cast<int>(r.args[0]) == P_PIDFD) {
        if (!(pidfd = p.fds().acquire(static_cast<int>(r.args[1])))) return -EBADF;
        id = static_cast<uint64_t>(pidfd->fd());
    }
    const bool hang = !(r.args[3] & WNOHANG);
    const auto began = hang ? p.child_wait_begin() : std::chrono::steady_clock::time_point{};
    const int64_t res = blocking(t, [&] {
        return raw(SYS_waitid, static_cast<long>(r.args[0]), static_cast<long>(id), P(info),
                   static_cast<long>(r.args[3]), P(ru));
    });
    if (hang) p.child_wait_end(began);
    // 0 with si_pid set: a child's state change (WNOHANG and none: si_pid 0).
    if (res == 0 && info && static_cast<const siginfo_t*>(info)->si_pid != 0) {
        const auto* si = static_cast<const siginfo_t*>(info);
        p.child_reported(t, si->si_pid, si->si_code == CLD_STOPPED ? si->si_status : 0);
    }
    return res;
}

int64_t sys_getppid(GuestThread&, const SyscallRequest&) { return ::getppid(); }
int64_t sys_getpgrp(GuestThread&, const SyscallRequest&) { return ::getpgrp(); }

int64_t sys_getpgid(GuestThread&, const SyscallRequest& r) {
    return host_result(::getpgid(static_cast<pid_t>(r.args[0])));
}

int64_t sys_getsid(GuestThread&, const SyscallRequest& r) { return host_result(::getsid(static_cast<pid_t>(r.args[0]))); }

int64_t sys_setpgid(GuestThread&, const SyscallRequest& r) {
    return host_result(::setpgid(static_cast<pid_t>(r.args[0]), static_cast<pid_t>(r.args[1])));
}

int64_t sys_setsid(GuestThread&, const SyscallRequest&) { return host_result(::setsid()); }

// Every process of the run below `root`, depth first, from /proc's
// children lists of each of their threads.
void descendants(pid_t root, std::vector<pid_t>& out) {
    char path[96];
    std::snprintf(path, sizeof path, "/proc/%d/task/%d/children", root, root);
    FILE* f = std::fopen(path, "re");
    std::vector<pid_t> kids;
    if (f) {
        int c;
        while (std::fscanf(f, "%d", &c) == 1) kids.push_back(c);
        std::fclose(f);
    }
    for (pid_t k : kids) {
        out.push_back(k);
        descendants(k, out);
    }
}

}  // namespace

int64_t guest_kill_other(Process& p, pid_t pid, int sig) {
    if (sig < 0 || sig > SignalTable::kMaxSignal) return -EINVAL;
    if (Process::host_reserved_signal(sig)) {
        // Departure: the receiver's spanvm would take it as its own.
        p.report_unsupported_feature(fmt::format("signal {} to another process (a number spanvm keeps)", sig));
        return -EINVAL;
    }
    if (pid != -1) return host_result(::kill(pid, sig));
    // kill(-1): every process of the run but the caller and the run's own
    // process, which is the guest's init (Linux spares init and the caller).
    std::vector<pid_t> all;
    descendants(p.root_pid(), all);
    int sent = 0;
    for (pid_t q : all)
        if (q != p.pid() && ::kill(q, sig) == 0) ++sent;
    return sent ? 0 : -ESRCH;
}

void register_process_children(ProcessHandlerTable& t) {
    t.add(SYS_wait4, sys_wait4);
    t.add(SYS_waitid, sys_waitid);
    t.add(SYS_getppid, sys_getppid);
    t.add(SYS_getpgrp, sys_getpgrp);
    t.add(SYS_getpgid, sys_getpgid);
    t.add(SYS_getsid, sys_getsid);
    t.add(SYS_setpgid, sys_setpgid);
    t.add(SYS_setsid, sys_setsid);
}

}  // namespace spanvm::process::detail
