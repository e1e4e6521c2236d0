#pragma once
// A guest thread: one vCPU driven by one host thread. The loop runs KVM_RUN
// and turns exits into syscalls (via SyscallGate) or fatal guest faults.
// Everything a syscall handler needs about "the calling thread" is here.
#include <linux/kvm.h>

#include <memory>

#include "vmm/kvm/vcpu.hpp"
#include "vmm/process/thread_table.hpp"

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

    Process& proc_;
    ThreadRow& row_;
    std::unique_ptr<kvm::Vcpu> vcpu_;
    bool exit_requested_ = false;
    int exit_code_ = 0;
};

}  // namespace spanvm::process
