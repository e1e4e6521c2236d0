#pragma once
// A guest thread: one vCPU driven by one host thread. The loop runs KVM_RUN
// and turns exits into syscalls (via SyscallGate) or fatal guest faults.
// Everything a syscall handler needs about "the calling thread" is here.
#include <linux/kvm.h>

#include <memory>
#include <optional>
#include <vector>

#include "vmm/kvm/vcpu.hpp"
#include "vmm/process/signals/signal_table.hpp"
#include "vmm/process/threads/thread_table.hpp"

namespace spanvm::process {

class Process;
struct ThreadStart;

class GuestThread {
public:
    GuestThread(Process& p, ThreadRow& row, std::unique_ptr<kvm::Vcpu> vcpu);

    // Host-thread body. Returns when the guest thread exits (SYS_exit);
    // process-wide exits never return.
    void run(const ThreadStart& start);

    Process& process() { return proc_; }
    ThreadRow& row() { return row_; }
    kvm::Vcpu& vcpu() { return *vcpu_; }
    kvm_regs& regs() { return vcpu_->sync_regs(); }
    void mark_regs_dirty() { vcpu_->mark_regs_dirty(); }

    // FS/GS base live in the segment registers, which are not synced on every
    // exit (cost); these go through KVM_GET/SET_SREGS.
    Result<uint64_t> fs_base() const;
    Result<void> set_fs_base(uint64_t v);
    Result<uint64_t> gs_base() const;
    Result<void> set_gs_base(uint64_t v);

    // For a syscall that rewrote the whole register file (rt_sigreturn,
    // execve): the gate then leaves RAX alone and the loop skips the sysret
    // emulation (RIP = RCX, RFLAGS = R11). Reset at each syscall.
    void set_regs_replaced() { regs_replaced_ = true; }
    bool regs_replaced() const { return regs_replaced_; }

    // --- signals (signal_delivery.cpp) ---
    // rt_sigreturn: restores registers, mask and FPU from the frame at RSP.
    int64_t sigreturn();
    // pause / rt_sigsuspend: blocks the host thread until a signal is
    // deliverable to this thread; returns -EINTR. With `suspend_mask`, that
    // mask is in force while waiting and the old one returns after the
    // handler frame is built (the frame saves the old one).
    int64_t wait_for_signal(std::optional<uint64_t> suspend_mask);
    // The host signal that kicks a vCPU thread out of KVM_RUN or a blocking
    // host syscall. Installed without SA_RESTART by install_kick_handler().
    static int kick_signal();
    static void install_kick_handler();
    static void kick_host_thread(int host_tid);

    // Set by SYS_exit: the loop ends after the current exit.
    void request_exit(int code) {
        exit_requested_ = true;
        exit_code_ = code;
    }

private:
    [[noreturn]] void fatal_exception(unsigned vector);
    [[noreturn]] void fatal_exit(const char* what);
    [[noreturn]] void fatal_unmapped_access();
    void complete_syscall_return();
    // Builds handler frames for every deliverable signal (default actions
    // end the process). `syscall_nr` >= 0: called at a syscall return, whose
    // -EINTR result may be turned into a restart (SA_RESTART rules).
    void deliver_signals(int64_t syscall_nr);
    // FPU image for a frame (XSAVE standard format, or FXSAVE where KVM's
    // XSAVE ioctls fail) and its restore from a frame's fpstate.
    bool save_fpu(std::vector<uint8_t>& out);
    bool restore_fpu(uint64_t fpstate);
    // Points this host thread's kick handler at this vCPU's kvm_run.
    void bind_kick_target();
    bool build_handler_frame(int sig, const SigInfoFields& info, const KernelSigaction& act);

    Process& proc_;
    ThreadRow& row_;
    std::unique_ptr<kvm::Vcpu> vcpu_;
    bool exit_requested_ = false;
    bool regs_replaced_ = false;
    std::optional<uint64_t> suspend_saved_mask_;
    int exit_code_ = 0;
};

}  // namespace spanvm::process
