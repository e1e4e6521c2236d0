#pragma once
// Architectural constants, named after the Intel SDM / Linux ABI.
#include <cstdint>

namespace spanvm::arch::x86 {

// Control registers.
inline constexpr uint64_t X86_CR0_PE = 1ull << 0;
inline constexpr uint64_t X86_CR0_MP = 1ull << 1;
inline constexpr uint64_t X86_CR0_ET = 1ull << 4;
inline constexpr uint64_t X86_CR0_NE = 1ull << 5;
inline constexpr uint64_t X86_CR0_WP = 1ull << 16;
inline constexpr uint64_t X86_CR0_AM = 1ull << 18;
inline constexpr uint64_t X86_CR0_PG = 1ull << 31;
inline constexpr uint64_t X86_CR4_PAE = 1ull << 5;
inline constexpr uint64_t X86_CR4_PGE = 1ull << 7;
inline constexpr uint64_t X86_CR4_OSFXSR = 1ull << 9;
inline constexpr uint64_t X86_CR4_OSXMMEXCPT = 1ull << 10;
inline constexpr uint64_t X86_CR4_OSXSAVE = 1ull << 18;

// MSRs.
inline constexpr uint32_t MSR_EFER = 0xC0000080;
inline constexpr uint32_t MSR_STAR = 0xC0000081;
inline constexpr uint32_t MSR_LSTAR = 0xC0000082;
inline constexpr uint32_t MSR_CSTAR = 0xC0000083;
inline constexpr uint32_t MSR_SYSCALL_MASK = 0xC0000084;
inline constexpr uint32_t MSR_FS_BASE = 0xC0000100;
inline constexpr uint32_t MSR_GS_BASE = 0xC0000101;
inline constexpr uint32_t MSR_KERNEL_GS_BASE = 0xC0000102;
inline constexpr uint32_t MSR_IA32_MISC_ENABLE = 0x000001A0;
inline constexpr uint32_t MSR_IA32_CR_PAT = 0x00000277;

inline constexpr uint64_t EFER_SCE = 1ull << 0;
inline constexpr uint64_t EFER_LME = 1ull << 8;
inline constexpr uint64_t EFER_LMA = 1ull << 10;
inline constexpr uint64_t EFER_NXE = 1ull << 11;

// RFLAGS.
inline constexpr uint64_t X86_EFLAGS_CF = 1ull << 0;
inline constexpr uint64_t X86_EFLAGS_FIXED = 1ull << 1;
inline constexpr uint64_t X86_EFLAGS_TF = 1ull << 8;
inline constexpr uint64_t X86_EFLAGS_IF = 1ull << 9;
inline constexpr uint64_t X86_EFLAGS_DF = 1ull << 10;
inline constexpr uint64_t X86_EFLAGS_IOPL = 3ull << 12;
inline constexpr uint64_t X86_EFLAGS_NT = 1ull << 14;
inline constexpr uint64_t X86_EFLAGS_AC = 1ull << 18;

// Exception vectors (SDM vol. 3, table 6-1).
inline constexpr unsigned X86_TRAP_DE = 0;   // divide error
inline constexpr unsigned X86_TRAP_DB = 1;
inline constexpr unsigned X86_TRAP_NMI = 2;
inline constexpr unsigned X86_TRAP_BP = 3;
inline constexpr unsigned X86_TRAP_OF = 4;
inline constexpr unsigned X86_TRAP_BR = 5;
inline constexpr unsigned X86_TRAP_UD = 6;   // invalid opcode
inline constexpr unsigned X86_TRAP_NM = 7;
inline constexpr unsigned X86_TRAP_DF = 8;
inline constexpr unsigned X86_TRAP_TS = 10;
inline constexpr unsigned X86_TRAP_NP = 11;
inline constexpr unsigned X86_TRAP_SS = 12;
inline constexpr unsigned X86_TRAP_GP = 13;  // general protection
inline constexpr unsigned X86_TRAP_PF = 14;  // page fault
inline constexpr unsigned X86_TRAP_MF = 16;
inline constexpr unsigned X86_TRAP_AC = 17;
inline constexpr unsigned X86_TRAP_MC = 18;
inline constexpr unsigned X86_TRAP_XF = 19;
inline constexpr unsigned kExceptionVectors = 32;

// Vectors whose frame carries an error code.
constexpr bool exception_has_error_code(unsigned v) {
    return v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21 || v == 29 || v == 30;
}

// #PF error code bits.
inline constexpr uint64_t X86_PF_PROT = 1ull << 0;
inline constexpr uint64_t X86_PF_WRITE = 1ull << 1;
inline constexpr uint64_t X86_PF_USER = 1ull << 2;
inline constexpr uint64_t X86_PF_INSTR = 1ull << 4;

}  // namespace spanvm::arch::x86
