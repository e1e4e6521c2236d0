#pragma once
// Per-vCPU architectural set-up for process mode: long mode, the shim's
// GDT/IDT/TSS, syscall MSRs, CPUID and XCR0, and entering user mode at a
// given RIP/RSP. Also the "return to user mode" that replaces sysret/iret.
#include <linux/kvm.h>

#include <cstdint>
#include <vector>

#include "vmm/base/result.hpp"
#include "vmm/kvm_ioctls/system.hpp"
#include "vmm/kvm_ioctls/vcpu.hpp"

namespace spanvm::platform::kvm {

struct CpuTemplate {
    std::vector<kvm_cpuid_entry2> cpuid;  // KVM's supported set, APIC id patched per vCPU
    uint64_t xcr0 = 0;                    // enabled XSAVE components (0 = no XSAVE)
    uint64_t hwcap = 0;                   // AT_HWCAP: CPUID.1:EDX, as Linux reports it
    uint64_t cr3 = 0;
};

// Reads KVM's supported CPUID and the host's XCR0 into a template.
Result<CpuTemplate> make_cpu_template(const kvm_ioctls::SystemFd& sys, uint64_t cr3);

// Configures a fresh vCPU: CPUID (APIC id = vcpu id), sregs for 64-bit user
// mode, MSRs, XCR0, FPU; enables sync regs. Registers are not set here.
Result<void> configure_vcpu(kvm_ioctls::VcpuFd& vcpu, const CpuTemplate& t);

// Sync-regs mask used by the vCPU loop.
// Only the GPRs: syncing sregs on every exit costs time on PVM, and sregs are
// needed only for arch_prctl, fault reports and the one-time ring check.
inline constexpr uint64_t kSyncRegsMask = KVM_SYNC_X86_REGS;

// True if the vCPU is in ring 0 (the stub ran in ring 0, as on VT-x/AMD-V)
// and user CS/SS must be restored explicitly; on PVM `syscall` stays in ring 3.
inline bool needs_user_segments(const kvm_sregs& s) { return (s.cs.selector & 3) != 3; }
void set_user_segments(kvm_sregs& s);

}  // namespace spanvm::platform::kvm
