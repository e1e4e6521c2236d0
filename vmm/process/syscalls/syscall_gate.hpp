#pragma once
// Syscall dispatch by number. A syscall is one of:
//   process  - emulated against the process's own tables (mm, threads,
//              futex, signals, identity): handled by process_syscalls
//   host     - executed as the real host syscall with translated pointers
//              and fds (file I/O, time, randomness): host_syscalls
//   unknown  - -ENOSYS, logged once per number
// In the distributed design, "host" calls from a remote node are forwarded
// to the origin's executor for this thread; on one host there is no hop.
#include <array>
#include <cstdint>
#include <optional>

namespace spanvm::process {

class GuestThread;

struct SyscallRequest {
    uint64_t nr;
    std::array<uint64_t, 6> args;  // RDI, RSI, RDX, R10, R8, R9
};

class SyscallGate {
public:
    // Decodes the syscall from the thread's registers, runs it and stores the
    // result in RAX (the return to user mode is the caller's job).
    static void dispatch(GuestThread& t);
};

// Emulated process syscalls; returns -ENOSYS if `nr` is not one of them.
// `handled` is set to false in that case.
int64_t process_syscall(GuestThread& t, const SyscallRequest& req, bool& handled);

// The thread's seccomp mode and filters applied to `req` before it is
// dispatched (process_syscalls_seccomp.cpp): nullopt when the call goes on;
// otherwise it was not made and this is its RAX (or the thread's registers
// were replaced, or the thread or process ends).
std::optional<int64_t> seccomp_enforce(GuestThread& t, const SyscallRequest& req);

}  // namespace spanvm::process
