#include "vmm/process/syscalls/syscall_gate.hpp"

#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <csignal>

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
}  // namespace

void SyscallGate::dispatch(GuestThread& t) {
    platform::Regs& r = t.regs();
    const SyscallRequest req{r.rax, {r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9}};
    t.row().syscalls.fetch_add(1, std::memory_order_relaxed);
    bool handled = true;
    int64_t ret = 0;
    if (t.wait_with_sigmask(req, ret)) {
        // ppoll/pselect6/epoll_pwait under a guest signal mask: done
    } else if (t.read_signalfd(req, ret)) {
        // a read of a signalfd: done
    } else if (ret = process_syscall(t, req, handled); !handled) {
        ret = host_syscall(t.process().host_ctx(), req.nr, req.args);
        if (ret == -ENOSYS && !is_host_syscall(req.nr)) t.process().report_unsupported(req.nr);
        if (ret == -EPIPE && raises_sigpipe(req))
            t.process().send_signal(&t, SIGPIPE, t.row().tid,
                                    {SI_USER, t.process().pid(), static_cast<uint32_t>(::getuid())});
    }
    // rt_sigreturn and execve replace the whole register file, RAX included.
    if (t.regs_replaced()) return;
    t.regs().rax = static_cast<uint64_t>(ret);
    t.mark_regs_dirty();
}

}  // namespace spanvm::process
