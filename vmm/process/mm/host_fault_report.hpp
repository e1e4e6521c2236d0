#pragma once
// Last-resort reporting for SIGSEGV/SIGBUS in the VMM process itself.
//
// The VMM copies guest memory on behalf of syscalls (iovec arrays, paths,
// futex words). Those pointers are checked against the address space first,
// but a racing munmap from another guest thread can revoke the pages between
// the check and the copy (Linux would return EFAULT there). Rather than a
// silent crash, a fault whose address lies in guest RAM ends the process
// like a guest SIGSEGV, with one line; any other fault is reported as an
// internal spanvm error and re-raised so a core dump shows it.
#include <cstdint>

namespace spanvm::process {

// Records guest RAM's bounds and returns the SA_SIGINFO handler for
// SIGSEGV/SIGBUS in VMM code; the platform installs it (on native, guest
// faults reach the guest instead and only VMM faults come here).
// `ram`/`size` bound guest RAM.
using HostFaultHandler = void (*)(int sig, void* siginfo, void* ucontext);
HostFaultHandler install_host_fault_report(const uint8_t* ram, uint64_t size);

}  // namespace spanvm::process
