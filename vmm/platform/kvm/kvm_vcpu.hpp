#pragma once
// The platform seam on KVM: a vCPU in guest ring 3, with the shim's entry
// stubs (guest-shim/entry.S) turning `syscall` and CPU exceptions into
// KVM_EXIT_IO on their first instruction. Registers travel through
// KVM_CAP_SYNC_REGS (GPRs only; sregs on demand).
//
// run() completes the return to user mode that sysret/iret would do: after
// a syscall exit RIP = RCX and RFLAGS = R11 (and user CS/SS where the stub
// ran in ring 0, as on VT-x/AMD-V; on PVM `syscall` stays in ring 3), so the
// caller sees the Vcpu contract of vmm/platform/vcpu.hpp. After an
// exception exit it reloads RIP/RSP/RFLAGS from the CPU's frame on the
// exception stack and user CS/SS, so the guest state is the faulting one.
#include <atomic>
#include <memory>

#include "vmm/kvm_ioctls/vcpu.hpp"
#include "vmm/platform/vcpu.hpp"

namespace spanvm::platform::kvm {

class KvmPlatform;

class KvmVcpu final : public Vcpu {
public:
    KvmVcpu(KvmPlatform& p, kvm_ioctls::VcpuFd v) : platform_(p), vcpu_(std::move(v)) {}

    unsigned long id() const override { return vcpu_.id(); }
    Result<void> attach_thread() override;
    void detach_thread() override;
    Result<void> set_initial_state(const Regs& regs, uint64_t fs_base, uint64_t gs_base) override;
    VcpuExit run() override;
    Regs& regs() override;
    void mark_regs_dirty() override { vcpu_.mark_regs_dirty(); }
    Result<uint64_t> fs_base() override;
    Result<void> set_fs_base(uint64_t v) override;
    Result<uint64_t> gs_base() override;
    Result<void> set_gs_base(uint64_t v) override;
    Result<std::vector<uint8_t>> save_fpu() override;
    Result<void> restore_fpu(std::span<const uint8_t> image) override;

    kvm_ioctls::VcpuFd& raw() { return vcpu_; }

private:
    Result<void> complete_syscall_return();
    bool xsave_works();
    VcpuExit exception_exit(unsigned vector);
    static VcpuExit error_exit(std::string what);

    KvmPlatform& platform_;
    kvm_ioctls::VcpuFd vcpu_;
};

}  // namespace spanvm::platform::kvm
