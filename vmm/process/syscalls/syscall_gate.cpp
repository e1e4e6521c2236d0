#include "vmm/process/syscalls/syscall_gate.hpp"

#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <csignal>

#include "vmm/platform/host_kick.hpp"
#include "vmm/process/threads/guest_thread.hpp"
#include "vmm/process/syscalls/host_syscalls.hpp"
#include "vmm/process/process.hpp"

namespace spanvm::process {

namespace {
// Linux sends SIGPIPE to a thread whose write to a pipe or stream socket
// with no reader fails with EPIPE, unless the send flags carry MSG_NOSIGNAL.
bool raises_sigpipe(const SyscallRequest& r) {
    switch (r.nr) {
        case SYS_write: case SYS_writev: case SYS_pwrite64: case SYS_pwritev: case SYS_pwritev2:
        case SYS_sendfile: case SYS_splice:
            return true;
        case SYS_sendto: return !(r.args[3] & MSG_NOSIGNAL);
        case SYS_sendmsg: return !(r.args[2] & MSG_NOSIGNAL);
        case SYS_sendmmsg: return !(r.args[3] & MSG_NOSIGNAL);
        default: return false;
    }
}
// A call that may sleep in the host (may_block_in_host), made so that no
// kick is lost: the kick count is taken before the test for a deliverable
// signal, and the handlers' host call of that number is cancellable against
// it (host_syscalls.hpp tl_armed_call). kNotMade: a signal (or an end
// request) came before the call began, and nothing was done. A cancelled
// call whose kick brought nothing for this thread (another thread took the
// process's signal) is simply made again.
template <class F>
int64_t run_cancellable(GuestThread& t, uint64_t nr, F&& call) {
    for (;;) {
        const uint32_t seen = platform::host_kicks();
        if (t.process().signals().deliverable(t.row()) || t.row().end_requested.load()) return platform::kNotMade;
        tl_armed_call = {static_cast<long>(nr), seen};
        const int64_t r = call();
        tl_armed_call = {};
        if (r != platform::kNotMade) return r;
    }
}

// A write past RLIMIT_FSIZE (write, pwrite, writev, fallocate, truncate, ...)
// fails with EFBIG and Linux sends SIGXFSZ to the calling thread (send_sig:
// thread-directed, SI_USER from the process itself). The host's lands on
// this host thread, which blocks the forwarded signals, and the forwarder
// takes only process-directed ones: it is taken here and made the guest
// thread's, delivered as the call returns (its default action ends the
// process, status 128+25 in a shell). EFBIG without one (past the file
// system's own limit) sends nothing.
void xfsz_to_guest(GuestThread& t) {
    siginfo_t si{};
    if (Process::take_pending_host(SIGXFSZ, si))
        t.process().send_signal(&t, SIGXFSZ, t.row().tid,
                                {SI_USER, t.process().pid(), static_cast<uint32_t>(::getuid())});
}

}  // namespace

void SyscallGate::dispatch(GuestThread& t) {
    platform::Regs& r = t.regs();
    const SyscallRequest req{r.rax, {r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9}};
    t.row().syscalls.fetch_add(1, std::memory_order_relaxed);
    auto call = [&]() -> int64_t {
        bool handled = true;
        int64_t ret = process_syscall(t, req, handled);
        if (handled) return ret;
        ret = host_syscall(t.process().host_ctx(), req.nr, req.args);
        if (ret == -ENOSYS && !is_host_syscall(req.nr)) t.process().report_unsupported(req.nr);
        if (ret == -EPIPE && raises_sigpipe(req))
            t.process().send_signal(&t, SIGPIPE, t.row().tid,
                                    {SI_USER, t.process().pid(), static_cast<uint32_t>(::getuid())});
        if (ret == -EFBIG) xfsz_to_guest(t);
        return ret;
    };
    int64_t ret = 0;
    if (auto verdict = seccomp_enforce(t, req)) {
        // seccomp: not made (ERRNO, TRAP, no tracer) or the thread ends
        ret = *verdict;
    } else if (t.wait_with_sigmask(req, ret)) {
        // ppoll/pselect6/epoll_pwait under a guest signal mask: done
    } else if (t.read_signalfd(req, ret)) {
        // a read of a signalfd: done
    } else if (may_block_in_host(req.nr)) {
        ret = run_cancellable(t, req.nr, call);
        if (ret == platform::kNotMade) {
            // Linux's ERESTARTNOINTR: the signal is delivered first and the
            // call made again after its handler, as if the signal had come
            // just before the `syscall` (which a patched site keeps, so RIP
            // - 2 is one on every platform).
            platform::Regs& regs = t.regs();
            regs.rax = req.nr;
            regs.rip -= 2;
            t.mark_regs_dirty();
            return;
        }
    } else {
        ret = call();
    }
    // rt_sigreturn and execve replace the whole register file, RAX included.
    if (t.regs_replaced()) return;
    t.regs().rax = static_cast<uint64_t>(ret);
    t.mark_regs_dirty();
}

}  // namespace spanvm::process
