#pragma once
// The data addresses one x86-64 instruction touches, decoded from its bytes
// and the register file (Intel SDM Vol. 2, ch. 2: prefixes, REX, VEX/EVEX,
// ModRM, SIB, displacement, immediate).
//
// Why: KVM_RUN fails with EFAULT, and no address, when the guest touches RAM
// whose host mapping is PROT_NONE (x86 KVM fills KVM_EXIT_MEMORY_FAULT only
// for guest_memfd conversions). Linux puts the faulting address in si_addr,
// so the KVM platform decodes the instruction at RIP to find it.
//
// Pure logic: no I/O. 64-bit mode only. What it knows:
//  * the ModRM memory operand of every one-byte, 0F, 0F38 and 0F3A opcode,
//    legacy or VEX-encoded (EVEX too, except disp8*N compression);
//  * the implicit operands of push/pop/call/ret/enter/leave/pushf/popf, the
//    string instructions (rsi/rdi), xlat and mov moffs;
//  * FS/GS segment overrides (fs_base/gs_base); other segments are flat.
// LEA, NOP-hints (0F 18-1F) and register-only forms touch no memory.
#include <cstdint>
#include <optional>
#include <span>

namespace spanvm::arch::x86 {

// General registers in encoding order: rax rcx rdx rbx rsp rbp rsi rdi r8..r15.
struct DecodeRegs {
    uint64_t gpr[16] = {};
    uint64_t rip = 0;
    uint64_t fs_base = 0;
    uint64_t gs_base = 0;
};

inline constexpr unsigned kMaxInstructionLength = 15;  // SDM Vol. 2, 2.3.11

// Up to two candidate addresses, in the order the instruction accesses them
// (movs reads [rsi] then writes [rdi]; push [mem] reads mem then writes the
// stack). The caller picks the one that faulted.
struct MemoryOperands {
    uint64_t addr[2] = {};
    unsigned count = 0;
};

// nullopt when the bytes are not an instruction this decoder understands,
// are truncated, or touch no memory.
std::optional<MemoryOperands> memory_operands(std::span<const uint8_t> insn, const DecodeRegs& regs);

}  // namespace spanvm::arch::x86
