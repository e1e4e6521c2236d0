#pragma once
// The platform-neutral general register file of one guest thread.
//
// Field order is KVM's struct kvm_regs (rax ... r15, rip, rflags), so the KVM
// platform can hand out its sync-regs page without a copy (static_asserts in
// vmm/platform/kvm/kvm_vcpu.cpp). Nothing here includes <linux/kvm.h>.
#include <cstdint>

namespace spanvm::platform {

struct Regs {
    uint64_t rax = 0, rbx = 0, rcx = 0, rdx = 0, rsi = 0, rdi = 0, rsp = 0, rbp = 0;
    uint64_t r8 = 0, r9 = 0, r10 = 0, r11 = 0, r12 = 0, r13 = 0, r14 = 0, r15 = 0;
    uint64_t rip = 0, rflags = 0;
};

}  // namespace spanvm::platform
