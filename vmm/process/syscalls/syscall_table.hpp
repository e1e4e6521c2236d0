#pragma once
// The one dispatch style for syscalls: a table indexed by syscall number,
// filled once (on first use) by one register_* function per topic file, and
// looked up with find(). Used by host_syscalls (HostSyscallContext handlers)
// and process_syscalls (GuestThread handlers). A number with no handler is
// not handled by that table (the caller returns -ENOSYS and tries the next
// one, see syscall_gate.hpp); numbers >= kMaxNr are never handled.
#include <array>
#include <cstddef>
#include <cstdint>

namespace spanvm::process::detail {

inline constexpr std::size_t kMaxSyscallNr = 512;

template <class Handler>
struct SyscallTable {
    std::array<Handler, kMaxSyscallNr> h{};
    void add(long nr, Handler f) { h[static_cast<std::size_t>(nr)] = f; }
    // The handler of `nr`, nullptr if none.
    Handler find(std::uint64_t nr) const { return nr < kMaxSyscallNr ? h[nr] : nullptr; }
};

}  // namespace spanvm::process::detail
