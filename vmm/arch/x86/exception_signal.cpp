#include "vmm/arch/x86/exception_signal.hpp"

#include <csignal>

#include <fmt/format.h>

#include "vmm/arch/x86/regs.hpp"

namespace spanvm::arch::x86 {

ExceptionSignal signal_for_exception(unsigned vector, uint64_t error_code, uint64_t cr2, uint64_t rip) {
    switch (vector) {
        case X86_TRAP_DE: return {SIGFPE, FPE_INTDIV, rip};
        case X86_TRAP_DB: return {SIGTRAP, TRAP_BRKPT, rip};
        case X86_TRAP_BP: return {SIGTRAP, SI_KERNEL, 0};
        case X86_TRAP_UD: return {SIGILL, ILL_ILLOPN, rip};
        case X86_TRAP_PF:
            return {SIGSEGV, (error_code & X86_PF_PROT) ? SEGV_ACCERR : SEGV_MAPERR, cr2};
        case X86_TRAP_MF:
        case X86_TRAP_XF: return {SIGFPE, FPE_FLTINV, rip};
        case X86_TRAP_AC: return {SIGBUS, BUS_ADRALN, 0};
        case X86_TRAP_NP:
        case X86_TRAP_SS: return {SIGBUS, SI_KERNEL, 0};
        default: return {SIGSEGV, SI_KERNEL, 0};  // #GP, #OF, #BR, #TS, #NM, ...
    }
}

std::string describe_exception(unsigned vector, uint64_t error_code, uint64_t cr2) {
    switch (vector) {
        case X86_TRAP_DE: return "divide error";
        case X86_TRAP_DB: return "debug trap";
        case X86_TRAP_BP: return "breakpoint";
        case X86_TRAP_OF: return "overflow";
        case X86_TRAP_BR: return "bound range exceeded";
        case X86_TRAP_UD: return "invalid opcode";
        case X86_TRAP_NM: return "device not available";
        case X86_TRAP_GP: return "general protection fault";
        case X86_TRAP_SS: return "stack segment fault";
        case X86_TRAP_NP: return "segment not present";
        case X86_TRAP_PF:
            return fmt::format("page fault at address {:#x} ({}{})", cr2, (error_code & X86_PF_WRITE) ? "write" : "read",
                               (error_code & X86_PF_INSTR) ? ", instruction fetch" : "");
        case X86_TRAP_MF: return "x87 floating-point exception";
        case X86_TRAP_AC: return "alignment check";
        case X86_TRAP_XF: return "SIMD floating-point exception";
        default: return fmt::format("CPU exception {}", vector);
    }
}

}  // namespace spanvm::arch::x86
