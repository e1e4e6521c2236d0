#pragma once
// A vCPU of the native platform: guest code runs directly on the host thread
// that attached it, with no hardware virtualization.
//
// Mechanism (chosen by measurement; docs/ARCHITECTURE.md "Platforms"):
// Syscall User Dispatch with no selector byte and the allowed region set to
// everything above guest RAM. A `syscall` executed from guest RAM raises
// SIGSYS in the calling thread (3.3 us here, against 20 us for a ptrace stop);
// spanvm's own syscalls, from its text above guest RAM, run untouched. The
// setting is per thread and not inherited by clone, so VMM helper threads
// and child processes are unaffected.
//
// Guest state lives in the NativeContext while the guest is out (regs,
// FS base, FPU image). Entry and exit are native_switch.S. The guest's TLS
// (FS base) is switched on each entry and exit (WRFSBASE or arch_prctl);
// the guest's GS base is the host thread's own (spanvm does not use GS),
// except that with syscall-site patching on (site_patcher.hpp) a thread
// whose guest has set no GS base gets its NativeContext there, which the
// patched sites' direct entry (spanvm_native_syscall_entry) reads.
//
// Liveness: every exit path of the guest (SIGSYS, CPU exception, kick)
// lands in spanvm_native_signal_entry, which always returns to run()'s
// caller; a signal handler the guest installs is emulated by the process
// layer and never replaces spanvm's host handlers.
#include <memory>
#include <span>

#include "vmm/platform/native/native_context.hpp"
#include "vmm/platform/platform.hpp"
#include "vmm/platform/vcpu.hpp"

namespace spanvm::platform::native {

class NativePlatform;

// Where SIGSEGV/SIGBUS raised by VMM code (not guest code) go.
void set_host_fault_handler(Platform::HostFaultHandler h);

class NativeVcpu final : public Vcpu {
public:
    NativeVcpu(NativePlatform& p, unsigned long id);
    ~NativeVcpu() override;
    NativeVcpu(const NativeVcpu&) = delete;
    NativeVcpu& operator=(const NativeVcpu&) = delete;

    unsigned long id() const override { return id_; }
    Result<void> attach_thread() override;
    void detach_thread() override;
    Result<void> set_initial_state(const Regs& regs, uint64_t fs_base, uint64_t gs_base) override;
    VcpuExit run() override;
    Regs& regs() override { return ctx_->regs; }
    void mark_regs_dirty() override {}
    Result<uint64_t> fs_base() override { return ctx_->guest_fs; }
    Result<void> set_fs_base(uint64_t v) override;
    Result<uint64_t> gs_base() override { return gs_base_; }
    Result<void> set_gs_base(uint64_t v) override;
    Result<std::vector<uint8_t>> save_fpu() override;
    Result<void> restore_fpu(std::span<const uint8_t> image) override;
    // Takes effect at patched sites only (native_switch.S, the fast path);
    // a trapped (SIGSYS) call still exits. SPANVM_NATIVE_PASSTHROUGH=off
    // keeps it empty.
    void set_passthrough_syscalls(std::array<uint64_t, 2> mask, std::atomic<uint64_t>* count) override;

private:
    void clear_passthrough();
    void build_sigreturn_frame();
    // The lite FPU state (native_context.hpp fpu_live) into ctx_->xsave.
    void materialize_fpu();
    VcpuExit exit_from_signal(int sig);

    NativePlatform& platform_;
    unsigned long id_;
    std::unique_ptr<NativeContext> ctx_;
    uint8_t* altstack_ = nullptr;  // kAltStackSize bytes; first page: header
    uint64_t gs_base_ = 0;
    bool gs_dirty_ = false;
    uint64_t host_sigmask_ = 0;
};

}  // namespace spanvm::platform::native
