#pragma once
// Names of x86-64 Linux system calls, for logs and traces. The table is
// generated (vmm/process/syscalls/syscall_names.cpp, by scripts/gen_syscall_names.sh).
#include <cstdint>
#include <optional>
#include <string_view>

namespace spanvm::process {

inline constexpr std::string_view kUnknownSyscall = "unknown";

// "read" for 0, ...; kUnknownSyscall for numbers the table does not know.
std::string_view syscall_name(uint64_t nr);
// Inverse lookup (linear; not for hot paths), e.g. for trace filters.
std::optional<uint64_t> syscall_number(std::string_view name);

}  // namespace spanvm::process
