#pragma once
// A KVM vCPU fd and its mmap'd kvm_run page. Thin wrapper, no policy.
//
// Register access goes through KVM_CAP_SYNC_REGS when enabled: after
// KVM_RUN returns, kvm_run->s.regs holds the registers named in
// kvm_valid_regs; values written there are loaded on the next KVM_RUN when
// flagged in kvm_dirty_regs. This saves a GET/SET ioctl pair per exit.
#include <linux/kvm.h>

#include <cstdint>
#include <span>

#include "vmm/base/result.hpp"
#include "vmm/kvm_ioctls/fd.hpp"

namespace spanvm::kvm_ioctls {

class VcpuFd {
public:
    VcpuFd(Fd fd, kvm_run* run, int run_size, unsigned long id);
    VcpuFd(VcpuFd&& o) noexcept;
    VcpuFd& operator=(VcpuFd&&) = delete;
    VcpuFd(const VcpuFd&) = delete;
    VcpuFd& operator=(const VcpuFd&) = delete;
    ~VcpuFd();

    int fd() const { return fd_.get(); }
    unsigned long id() const { return id_; }
    kvm_run* run_data() const { return run_; }

    // KVM_RUN. EINTR is returned as an Error with code EINTR (a kick).
    Result<void> run();

    Result<kvm_regs> get_regs() const;
    Result<void> set_regs(const kvm_regs& r);
    Result<kvm_sregs> get_sregs() const;
    Result<void> set_sregs(const kvm_sregs& s);
    Result<void> set_cpuid(std::span<const kvm_cpuid_entry2> entries);
    Result<void> set_msrs(std::span<const kvm_msr_entry> entries);  // all must be accepted
    Result<void> get_msrs(std::span<kvm_msr_entry> entries) const;   // index in, data out
    Result<void> set_fpu(const kvm_fpu& f);
    Result<kvm_fpu> get_fpu() const;
    Result<kvm_xcrs> get_xcrs() const;
    // KVM_GET_XSAVE2 / KVM_SET_XSAVE: the standard-format XSAVE image. The
    // buffer must hold KVM_CHECK_EXTENSION(KVM_CAP_XSAVE2) bytes
    // (kXsaveBufferSize covers every x86 component, AMX included); plain
    // KVM_GET_XSAVE fails with EINVAL once the guest FPU exceeds 4 KiB.
    static constexpr size_t kXsaveBufferSize = 16384;
    Result<void> get_xsave(std::span<uint8_t> buf) const;
    Result<void> set_xsave(std::span<const uint8_t> buf);
    Result<void> set_xcrs(const kvm_xcrs& x);

    // Sync-regs helpers (valid only if the VM has KVM_CAP_SYNC_REGS).
    void enable_sync_regs(uint64_t mask) { run_->kvm_valid_regs = mask; }
    kvm_regs& sync_regs() { return run_->s.regs.regs; }
    kvm_sregs& sync_sregs() { return run_->s.regs.sregs; }
    void mark_regs_dirty() { run_->kvm_dirty_regs |= KVM_SYNC_X86_REGS; }
    void mark_sregs_dirty() { run_->kvm_dirty_regs |= KVM_SYNC_X86_SREGS; }

    // Makes the current or next KVM_RUN return at once (EINTR) — used with a
    // signal to kick a vCPU out of the guest.
    void set_immediate_exit(bool on) { run_->immediate_exit = on ? 1 : 0; }

private:
    Fd fd_;
    kvm_run* run_ = nullptr;
    int run_size_ = 0;
    unsigned long id_ = 0;
};

}  // namespace spanvm::kvm_ioctls
