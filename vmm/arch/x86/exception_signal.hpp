#pragma once
// Which signal Linux raises for a CPU exception in user mode (arch/x86/
// kernel/traps.c and fault.c), as a pure function of the vector, the error
// code, CR2 and RIP. The KVM platform uses it to turn a guest exception into
// the guest signal; the native platform gets the signal from the host kernel
// and uses describe_exception() for the one-line report.
#include <cstdint>
#include <string>

namespace spanvm::arch::x86 {

// si_code values (Linux uapi asm-generic/siginfo.h).
inline constexpr int SI_KERNEL = 0x80;
inline constexpr int ILL_ILLOPN = 2;
inline constexpr int FPE_INTDIV = 1;
inline constexpr int FPE_FLTINV = 7;
inline constexpr int SEGV_MAPERR = 1;
inline constexpr int SEGV_ACCERR = 2;
inline constexpr int BUS_ADRALN = 1;
inline constexpr int TRAP_BRKPT = 1;

struct ExceptionSignal {
    int signo = 0;
    int si_code = 0;
    uint64_t fault_addr = 0;
};

ExceptionSignal signal_for_exception(unsigned vector, uint64_t error_code, uint64_t cr2, uint64_t rip);

// "page fault at address 0x0 (read)", "invalid opcode", ...
std::string describe_exception(unsigned vector, uint64_t error_code, uint64_t cr2);

}  // namespace spanvm::arch::x86
