#pragma once
// A guest's seccomp filters, as pure logic (no I/O): the kernel's checks of a
// classic BPF program (bpf_check_classic and seccomp_check_filter), its
// interpreter over a struct seccomp_data, and the precedence of the actions
// of a chain of filters (seccomp_run_filters). The process layer enforces
// the verdict before it dispatches a guest call
// (process_syscalls_seccomp.cpp): a filter on the host thread would filter
// spanvm's own calls, so spanvm runs the guest's filters itself, as gVisor
// does.
//
// Invariants: a Filter is checked before it is made and never changes; a
// chain only grows at its head (a new filter points at the thread's
// previous one), so a thread's chain is shared with the threads and forked
// processes that inherited it.
#include <linux/audit.h>    // AUDIT_ARCH_X86_64
#include <linux/filter.h>   // BPF_* opcodes, BPF_MAXINSNS, BPF_MEMWORDS
#include <linux/seccomp.h>  // SECCOMP_RET_*, SECCOMP_MODE_*, SECCOMP_FILTER_FLAG_*

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace spanvm::process::seccomp {

// struct sock_filter (linux/filter.h).
struct SockFilter {
    std::uint16_t code = 0;
    std::uint8_t jt = 0;
    std::uint8_t jf = 0;
    std::uint32_t k = 0;
};

// struct seccomp_data (linux/seccomp.h): what a filter reads, 64 bytes.
struct SeccompData {
    std::int32_t nr = 0;
    std::uint32_t arch = 0;
    std::uint64_t instruction_pointer = 0;
    std::uint64_t args[6] = {};
};
inline constexpr std::uint32_t kSeccompDataSize = 64;

// Linux's MAX_INSNS_PER_PATH (kernel/seccomp.c): (1 << 18) / sizeof(struct
// sock_filter) instructions over a thread's whole chain.
inline constexpr std::size_t kMaxInsnsPerPath = 32768;
// SYS_SECCOMP (asm-generic/siginfo.h): the si_code of a SECCOMP_RET_TRAP's
// SIGSYS (glibc's <signal.h> does not name it).
inline constexpr std::int32_t kSysSeccompCode = 1;

// Why the kernel would refuse the program (EINVAL), or nullopt when it
// accepts it: length 1..BPF_MAXINSNS, only the opcodes seccomp allows,
// absolute loads of aligned words inside seccomp_data, jumps inside the
// program, no division by a constant 0 or shift by 32 or more, scratch
// words written before they are read on every path, a return at the end.
std::optional<std::string> check(std::span<const SockFilter> prog);

// The program's return value for `d` (a checked program; an unchecked one
// returns SECCOMP_RET_KILL_THREAD where it would leave the rules).
std::uint32_t run(std::span<const SockFilter> prog, const SeccompData& d);

struct Filter {
    std::vector<SockFilter> prog;
    std::shared_ptr<const Filter> prev;  // the filter installed before this one, or null
    bool log = false;                    // SECCOMP_FILTER_FLAG_LOG
    // Instructions of this chain for the per-path limit: each filter counts
    // its length plus 4, as the kernel does.
    std::size_t path_insns() const;
};

// The verdict of a chain for `d`: every filter runs, newest first, and the
// action that takes precedence wins (the lowest as a signed number: KILL_
// PROCESS, KILL_THREAD, TRAP, ERRNO, USER_NOTIF, TRACE, LOG, ALLOW; among
// equal actions the newest filter's data). A null chain allows.
std::uint32_t evaluate(const Filter* chain, const SeccompData& d);

// Whether the action of a return value is one the kernel knows (for
// SECCOMP_GET_ACTION_AVAIL).
bool action_known(std::uint32_t action);

}  // namespace spanvm::process::seccomp
