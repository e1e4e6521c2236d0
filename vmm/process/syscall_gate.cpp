#include "vmm/process/syscall_gate.hpp"

#include "vmm/process/guest_thread.hpp"
#include "vmm/process/host_syscalls.hpp"
#include "vmm/process/process.hpp"

namespace spanvm::process {

void SyscallGate::dispatch(GuestThread& t) {
    kvm_regs& r = t.regs();
    const SyscallRequest req{r.rax, {r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9}};
    t.row().syscalls.fetch_add(1, std::memory_order_relaxed);
    bool handled = true;
    int64_t ret = process_syscall(t, req, handled);
    if (!handled) {
        ret = host_syscall(t.process().host_ctx(), req.nr, req.args);
        if (ret == -ENOSYS && !is_host_syscall(req.nr)) t.process().report_unsupported(req.nr);
    }
    // process_syscall may have replaced the register file (it never does for
    // RAX-returning calls), so re-fetch the reference.
    t.regs().rax = static_cast<uint64_t>(ret);
    t.mark_regs_dirty();
}

}  // namespace spanvm::process
