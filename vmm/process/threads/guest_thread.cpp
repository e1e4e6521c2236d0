#include "vmm/process/threads/guest_thread.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <csignal>

#include "guest-shim/shim.hpp"
#include "vmm/arch/x86/regs.hpp"
#include "vmm/base/log.hpp"
#include "vmm/memory/layout.hpp"
#include "vmm/process/guest_cpu.hpp"
#include "vmm/process/process.hpp"
#include "vmm/process/syscalls/syscall_gate.hpp"

namespace spanvm::process {

GuestThread::GuestThread(Process& p, ThreadRow& row, std::unique_ptr<kvm::Vcpu> vcpu)
    : proc_(p), row_(row), vcpu_(std::move(vcpu)) {}

Result<uint64_t> GuestThread::fs_base() const {
    auto s = vcpu_->get_sregs();
    if (!s) return s.error();
    return s->fs.base;
}
Result<void> GuestThread::set_fs_base(uint64_t v) {
    auto s = vcpu_->get_sregs();
    if (!s) return s.error();
    s->fs.base = v;
    return vcpu_->set_sregs(*s);
}
Result<uint64_t> GuestThread::gs_base() const {
    auto s = vcpu_->get_sregs();
    if (!s) return s.error();
    return s->gs.base;
}
Result<void> GuestThread::set_gs_base(uint64_t v) {
    auto s = vcpu_->get_sregs();
    if (!s) return s.error();
    s->gs.base = v;
    return vcpu_->set_sregs(*s);
}

void GuestThread::run(const ThreadStart& start) {
    bind_kick_target();
    row_.host_tid = static_cast<int>(::syscall(SYS_gettid));
    // Initial state: set through ioctls once; afterwards sync regs carry it.
    vcpu_->run_data()->kvm_dirty_regs = 0;
    if (auto r = vcpu_->set_regs(start.regs); !r) fatal_exit(r.error().message.c_str());
    auto s = vcpu_->get_sregs();
    if (!s) fatal_exit(s.error().message.c_str());
    set_user_segments(*s);
    s->fs.base = start.fs_base;
    s->gs.base = start.gs_base;
    if (auto r = vcpu_->set_sregs(*s); !r) fatal_exit(r.error().message.c_str());
    row_.state = ThreadState::running;

    kvm_run* run = vcpu_->run_data();
    for (;;) {
        auto r = vcpu_->run();
        if (!r) {
            if (r.error().code == EINTR || r.error().code == EAGAIN) {
                // A kick (or any host signal): deliver what is pending,
                // except inside spanvm's entry stubs (the syscall path
                // delivers on its way out; exception stubs are fatal).
                run->immediate_exit = 0;
                if (vcpu_->sync_regs().rip >= layout::kUserBase) deliver_signals(-1);
                continue;
            }
            if (r.error().code == EFAULT) fatal_unmapped_access();
            fatal_exit(r.error().message.c_str());
        }
        switch (run->exit_reason) {
            case KVM_EXIT_IO: {
                row_.exits_io.fetch_add(1, std::memory_order_relaxed);
                const uint16_t port = run->io.port;
                if (port == shim::kSyscallPort) {
                    row_.state.store(ThreadState::in_syscall, std::memory_order_relaxed);
                    const int64_t nr = static_cast<int64_t>(vcpu_->sync_regs().rax);
                    regs_replaced_ = false;
                    SyscallGate::dispatch(*this);
                    if (exit_requested_) {
                        row_.state = ThreadState::exited;
                        proc_.thread_exited(row_, std::move(vcpu_), exit_code_);
                        return;
                    }
                    if (!regs_replaced_) complete_syscall_return();
                    if (proc_.signals().deliverable(row_)) deliver_signals(regs_replaced_ ? -1 : nr);
                    row_.state.store(ThreadState::running, std::memory_order_relaxed);
                    continue;
                }
                if (port >= shim::kExceptionPortBase && port < shim::kExceptionPortBase + shim::kVectors) {
                    row_.exits_exception.fetch_add(1, std::memory_order_relaxed);
                    fatal_exception(port - shim::kExceptionPortBase);
                }
                row_.exits_other.fetch_add(1, std::memory_order_relaxed);
                fatal_exit("I/O to an unexpected port");
            }
            case KVM_EXIT_INTR:
                run->immediate_exit = 0;
                if (vcpu_->sync_regs().rip >= layout::kUserBase) deliver_signals(-1);
                continue;
            default:
                row_.exits_other.fetch_add(1, std::memory_order_relaxed);
                fatal_exit("unexpected VM exit");
        }
    }
}

// The VMM's replacement for sysret: RIP = RCX, RFLAGS = R11, and, only where
// the stub ran in ring 0 (hardware VT-x/AMD-V), user CS/SS. On PVM the
// `syscall` instruction never leaves ring 3 (platform notes), so the common
// path is a sync-regs update with no extra ioctl.
void GuestThread::complete_syscall_return() {
    kvm_regs& r = vcpu_->sync_regs();
    r.rip = r.rcx;
    r.rflags = (r.r11 & ~(x86::X86_EFLAGS_TF | x86::X86_EFLAGS_NT)) | x86::X86_EFLAGS_FIXED;
    vcpu_->mark_regs_dirty();
    int ring0 = proc_.stub_ring0.load(std::memory_order_relaxed);
    if (ring0 == -1) {
        auto s = vcpu_->get_sregs();
        if (!s) fatal_exit(s.error().message.c_str());
        ring0 = needs_user_segments(*s) ? 1 : 0;
        proc_.stub_ring0.store(ring0);
    }
    if (ring0 == 1) {
        auto s = vcpu_->get_sregs();
        if (!s) fatal_exit(s.error().message.c_str());
        set_user_segments(*s);
        if (auto e = vcpu_->set_sregs(*s); !e) fatal_exit(e.error().message.c_str());
    }
}

namespace {
struct FaultSignal {
    int sig;
    const char* what;
};
FaultSignal signal_for_vector(unsigned v) {
    switch (v) {
        case x86::X86_TRAP_DE: return {SIGFPE, "divide error"};
        case x86::X86_TRAP_DB: return {SIGTRAP, "debug trap"};
        case x86::X86_TRAP_BP: return {SIGTRAP, "breakpoint"};
        case x86::X86_TRAP_OF: return {SIGSEGV, "overflow"};
        case x86::X86_TRAP_BR: return {SIGSEGV, "bound range exceeded"};
        case x86::X86_TRAP_UD: return {SIGILL, "invalid opcode"};
        case x86::X86_TRAP_NM: return {SIGSEGV, "device not available"};
        case x86::X86_TRAP_GP: return {SIGSEGV, "general protection fault"};
        case x86::X86_TRAP_SS: return {SIGBUS, "stack segment fault"};
        case x86::X86_TRAP_NP: return {SIGBUS, "segment not present"};
        case x86::X86_TRAP_PF: return {SIGSEGV, "page fault"};
        case x86::X86_TRAP_MF: return {SIGFPE, "x87 floating-point exception"};
        case x86::X86_TRAP_AC: return {SIGBUS, "alignment check"};
        case x86::X86_TRAP_XF: return {SIGFPE, "SIMD floating-point exception"};
        default: return {SIGSEGV, "CPU exception"};
    }
}
}  // namespace

// The shim's vector entry exited on its first instruction, so RSP still
// points at the CPU's exception frame on the IST1 stack:
//   [error code], RIP, CS, RFLAGS, RSP, SS.
// All vCPUs share that stack; that is safe because every exception is fatal
// and only the first reporter gets to end the process.
void GuestThread::fatal_exception(unsigned vector) {
    const kvm_regs& r = vcpu_->sync_regs();
    uint64_t frame[6] = {};
    proc_.machine().memory().read(r.rsp, frame, sizeof frame);
    const int off = x86::exception_has_error_code(vector) ? 1 : 0;
    const uint64_t err = off ? frame[0] : 0, rip = frame[off];
    auto fs = signal_for_vector(vector);
    std::string detail;
    if (vector == x86::X86_TRAP_PF) {
        auto s = vcpu_->get_sregs();
        detail = fmt::format(" at address {:#x} ({}{})", s ? s->cr2 : 0, (err & x86::X86_PF_WRITE) ? "write" : "read",
                             (err & x86::X86_PF_INSTR) ? ", instruction fetch" : "");
    }
    log::error("guest thread {} killed by {}: {}{} at RIP {:#x}", row_.tid, sigabbrev_np(fs.sig) ? fmt::format("SIG{}", sigabbrev_np(fs.sig)) : "signal",
               fs.what, detail, rip);
    proc_.exit_process(128 + fs.sig);
}

// KVM_RUN fails with EFAULT when the guest touches guest RAM whose host
// mapping is PROT_NONE: an unmapped hole or a PROT_NONE mapping (see
// Process::sync_host_protection). RIP still points at the instruction.
void GuestThread::fatal_unmapped_access() {
    auto r = vcpu_->get_regs();
    log::error("guest thread {} killed by SIGSEGV: access to unmapped or PROT_NONE memory at RIP {:#x}", row_.tid,
               r ? r->rip : 0);
    proc_.exit_process(128 + SIGSEGV);
}

void GuestThread::fatal_exit(const char* what) {
    kvm_run* run = vcpu_->run_data();
    log::error("guest thread {} (vCPU {}): {} (KVM exit reason {}, RIP {:#x}); terminating", row_.tid, row_.vcpu_id,
               what, run->exit_reason, vcpu_->sync_regs().rip);
    proc_.exit_process(128 + SIGSEGV);
}

}  // namespace spanvm::process
