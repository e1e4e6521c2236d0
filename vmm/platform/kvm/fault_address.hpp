#pragma once
// The address of a guest access that made KVM_RUN fail with EFAULT.
//
// Departure from VT-x semantics: spanvm keeps guest page tables as an
// identity map and enforces mprotect/munmap on the host mapping of guest RAM
// (Process::sync_host_protection), so such an access never reaches the guest
// as #PF. KVM reports it as EFAULT with no address (x86 KVM fills
// KVM_EXIT_MEMORY_FAULT only for guest_memfd), so the address is recovered
// by decoding the instruction at RIP (vmm/arch/x86/memory_operand).
#include <linux/kvm.h>

#include <cstdint>
#include <optional>

#include "vmm/memory/guest_memory.hpp"

namespace spanvm::platform::kvm {

// Where the instruction has two operands (movs, push [mem], ...) the first
// one whose host page cannot be read, else the last one (the write).
// nullopt when the instruction cannot be decoded.
std::optional<uint64_t> efault_address(const kvm_regs& regs, const kvm_sregs& sregs, const memory::GuestMemory& mem);

}  // namespace spanvm::platform::kvm
