#pragma once
// Internal to the process_syscalls*.cpp files: the handler table of the
// emulated process syscalls (see syscall_table.hpp) and the helpers they
// share. Not part of the public API.
#include <cerrno>
#include <cstdint>

#include "vmm/base/result.hpp"
#include "vmm/process/syscalls/syscall_gate.hpp"
#include "vmm/process/syscalls/syscall_table.hpp"

#include <sys/types.h>

namespace spanvm::process {
class Process;
}

namespace spanvm::process::detail {

using ProcessHandler = int64_t (*)(GuestThread&, const SyscallRequest&);
using ProcessHandlerTable = SyscallTable<ProcessHandler>;

void register_process_memory(ProcessHandlerTable& t);   // process_syscalls_memory.cpp: mmap, brk, madvise
void register_process_threads(ProcessHandlerTable& t);  // process_syscalls_threads.cpp: clone, exec, exit, futex
void register_process_signals(ProcessHandlerTable& t);  // process_syscalls_signals.cpp: signals, itimers, kill
void register_process_misc(ProcessHandlerTable& t);     // process_syscalls_misc.cpp: ids, limits, scheduling
void register_process_sched(ProcessHandlerTable& t);    // process_syscalls_sched.cpp: nice, policies, I/O priority

void register_process_children(ProcessHandlerTable& t);  // process_syscalls_children.cpp: wait, groups, sessions
void register_process_seccomp(ProcessHandlerTable& t);   // process_syscalls_seccomp.cpp: seccomp(2)
void register_process_timers(ProcessHandlerTable& t);    // process_syscalls_timers.cpp: POSIX timers
// prctl(PR_SET_SECCOMP) and prctl(PR_GET_SECCOMP) (process_syscalls_seccomp.cpp).
int64_t seccomp_prctl(GuestThread& t, const SyscallRequest& r);
// kill(pid, sig) for a pid other than the caller's own (host processes).
int64_t guest_kill_other(Process& p, pid_t pid, int sig);

// -errno of an Error (EINVAL if it carries no code).
inline int64_t err(const Error& e) { return -(e.code ? e.code : EINVAL); }

}  // namespace spanvm::process::detail
