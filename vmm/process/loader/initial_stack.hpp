#pragma once
// Builds the x86-64 System V initial process stack (psABI 3.4.1, and what
// Linux's create_elf_tables() produces). Pure: returns bytes for the caller
// to copy into guest memory at [rsp, stack_top).
//
// Layout, low to high addresses:
//   rsp ->  argc
//           argv[0..argc-1], NULL
//           envp[0..envc-1], NULL
//           auxv pairs (caller's, then AT_RANDOM, AT_PLATFORM, AT_EXECFN), AT_NULL pair
//           padding (so that rsp % 16 == 0)
//           16 random bytes (AT_RANDOM), platform string (AT_PLATFORM),
//           argv strings, envp strings, execfn string (AT_EXECFN),
//           8 zero bytes
//   stack_top
// The string area follows Linux's order (execfn nearest the top, then envp,
// then argv, then platform and the random bytes below them).
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "vmm/base/result.hpp"

namespace spanvm::process {

struct AuxEntry {
    uint64_t type = 0;   // AT_* from <elf.h>
    uint64_t value = 0;
    bool operator==(const AuxEntry&) const = default;
};

struct InitialStackInput {
    uint64_t stack_top = 0;              // guest address one past the highest stack byte
    std::vector<std::string> argv;
    std::vector<std::string> envp;
    // Must not contain AT_NULL, AT_RANDOM, AT_PLATFORM or AT_EXECFN: the
    // builder adds those itself.
    std::vector<AuxEntry> auxv;
    std::array<uint8_t, 16> random{};    // AT_RANDOM bytes (glibc seeds the stack guard from them)
    std::string platform = "x86_64";
    std::string execfn;                  // AT_EXECFN: the path passed to execve
    uint64_t max_size = 0;               // refuse images larger than this many bytes
};

struct InitialStack {
    uint64_t rsp = 0;              // initial RSP; points at argc; rsp % 16 == 0
    std::vector<uint8_t> bytes;    // copy to guest [rsp, stack_top); bytes.size() == stack_top - rsp
    // Guest addresses of the parts, for the VMM's own bookkeeping
    // (prctl(PR_SET_MM) style arg/env ranges, /proc/self/auxv emulation).
    uint64_t argv_addr = 0;        // &argv[0]
    uint64_t envp_addr = 0;        // &envp[0]
    uint64_t auxv_addr = 0;        // first auxv pair
    uint64_t auxv_bytes = 0;       // including the AT_NULL pair
    uint64_t arg_start = 0, arg_end = 0;  // argv strings, NULs included
    uint64_t env_start = 0, env_end = 0;  // envp strings, NULs included
    uint64_t random_addr = 0;
    uint64_t platform_addr = 0;
    uint64_t execfn_addr = 0;
};

// Fails ("initial stack needs N bytes, more than the limit of M") if the image
// exceeds max_size, if it would extend below address 0, or if a string
// contains a NUL byte or an auxv entry is reserved for the builder.
Result<InitialStack> build_initial_stack(const InitialStackInput& in);

struct StandardAuxvParams {
    uint64_t phdr = 0;          // AT_PHDR: guest address of the program headers (ElfFile::phdr_address)
    uint64_t phent = 56;        // AT_PHENT: sizeof(Elf64_Phdr)
    uint64_t phnum = 0;         // AT_PHNUM
    uint64_t page_size = 4096;  // AT_PAGESZ
    uint64_t interp_base = 0;   // AT_BASE: interpreter load address, 0 without one
    uint64_t flags = 0;         // AT_FLAGS
    uint64_t entry = 0;         // AT_ENTRY: biased entry of the program (not the interpreter)
    uint64_t uid = 0, euid = 0, gid = 0, egid = 0;
    uint64_t hwcap = 0;         // AT_HWCAP: CPUID.1:EDX on x86
    uint64_t hwcap2 = 0;        // AT_HWCAP2: emitted only when non-zero
    uint64_t clock_ticks = 100; // AT_CLKTCK
    uint64_t minsigstksz = 2048;  // AT_MINSIGSTKSZ: the largest signal frame (sigframe::max_frame_size)
    uint64_t sysinfo_ehdr = 0;    // AT_SYSINFO_EHDR: the vDSO's base; emitted (first, as Linux) only when non-zero
};

// The auxv entries the VMM passes (everything except AT_RANDOM, AT_PLATFORM,
// AT_EXECFN and AT_NULL, which build_initial_stack() adds), in Linux's order.
std::vector<AuxEntry> standard_auxv(const StandardAuxvParams& p);

}  // namespace spanvm::process
