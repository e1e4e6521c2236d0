#pragma once
#include <signal.h>

// host_syscall: guest system calls that are executed as the REAL host system
// call, with guest pointers translated through GuestAccess and guest fds
// through FdTable (file I/O, stat, paths, directories, pipes, poll, epoll,
// select, sockets, xattrs, splice, time, randomness, ids, resource info).
//
// Returns the raw Linux ABI value for RAX (negative errno on error), or
// -ENOSYS when nr is not handled here (the caller then tries its other
// tables; is_host_syscall() tells the two -ENOSYS cases apart).
//
// Invariants:
//  - every guest pointer goes through GuestAccess (-EFAULT when bad); path
//    strings, iovec arrays, pollfd arrays and in-structs are copied out of
//    guest memory once before the host call, so a racing vCPU cannot change
//    what was validated;
//  - every guest fd goes through FdTable (-EBADF when unmapped) and is pinned
//    (FdRef) for the whole host call; fds the call creates are installed in
//    the table. Host fds are always created O_CLOEXEC on the host; the
//    guest's O_CLOEXEC / FD_CLOEXEC lives in the table;
//  - a path that is absolute makes the *at dirfd irrelevant (as in Linux).
//  - blocking host calls block the calling vCPU thread (by design).
//
// Restrictions (departures, all deliberate):
//  - ioctl: only TCGETS, TIOCGWINSZ, FIONREAD, FIONBIO; others -ENOTTY.
//  - fcntl: F_DUPFD(_CLOEXEC), F_GETFD/F_SETFD (table), F_GETFL/F_SETFL,
//    F_GETLK/F_SETLK(W), F_OFD_*LK, F_GETPIPE_SZ/F_SETPIPE_SZ,
//    F_ADD_SEALS/F_GET_SEALS; others (F_SETOWN, F_SETSIG, leases, notify:
//    they involve signals or pids) -EINVAL. F_GETFL never reports O_CLOEXEC.
//  - ppoll / epoll_pwait: the signal mask argument is ignored (signals are
//    emulated by the VMM, not delivered to the host thread).
//  - clock_*: negative clock ids (per-pid CPU clocks, fd-based dynamic
//    clocks) are -EINVAL, since they would name host pids/fds.
//  - close: host close(2) errors are not reported (the host fd is closed
//    when its last user drops it, see fd_table.hpp).
//  - open of /sys/devices/system/cpu/{online,possible} (exact path, read-only
//    access) yields a sealed memfd containing "0-(N-1)\n" ("0\n" for N = 1),
//    N = guest_cpus, so get_nprocs() sees the guest's CPUs.
//  - readlink("/proc/self/exe") returns guest_exe when it is set.
//  - sockets: socket options holding user pointers are translated or
//    -EOPNOTSUPP, control buffers are capped at 1 MiB, SCM_RIGHTS fds that
//    do not fit the table are cut with MSG_CTRUNC (host_syscalls_net.cpp).
//  - pselect6: the signal mask is ignored, as for ppoll.
//  - paths /proc/self/fd/N[/...], /proc/thread-self/fd/N, /proc/self/fdinfo/N
//    and /dev/fd/N name the guest's fd N (rewritten to the host fd; -ENOENT
//    if unmapped). Best effort for libc's spellings, not a security
//    boundary; listing /proc/self/fd shows host numbers.
//  - chdir/fchdir/umask change the VMM process's cwd/umask (the VMM serves
//    one guest process); the VMM must not rely on relative paths after start.
#include <array>
#include <functional>
#include <cstdint>
#include <string>
#include <string_view>

#include "vmm/process/syscalls/fd_table.hpp"
#include "vmm/process/mm/guest_access.hpp"

namespace spanvm::process {

// The files of its own /proc directory whose text a guest reads rewritten.
enum class OwnProcFile { status, stat, maps };

struct HostSyscallContext {
    GuestAccess& mem;
    FdTable& fds;
    unsigned guest_cpus = 1;
    std::string guest_exe;  // absolute path of the guest program, or empty
    // The guest's view of its own /proc status or stat file (proc_status.hpp,
    // proc_stat.hpp): the host's text in, the text the guest reads out;
    // `thread_self` for /proc/thread-self/. Unset: the host's text as it is.
    // Its maps (proc_maps.hpp) come from its address space: `host` is empty.
    std::function<std::string(std::string_view host, OwnProcFile file, bool thread_self)> proc_view;
    // Whether its own maps is written (proc_view with OwnProcFile::maps)
    // rather than the host's read. Unset: the host's.
    std::function<bool()> own_maps;
    // The host tid of guest thread `tid` of this process (a CPU clock's
    // thread, clock_gettime), or -1. Unset: none is known.
    std::function<int(int tid)> host_tid_of;
};

using SyscallArgs = std::array<uint64_t, 6>;

int64_t host_syscall(HostSyscallContext& ctx, uint64_t nr, const SyscallArgs& a);
bool is_host_syscall(uint64_t nr);
// While set on a thread (GuestThread::wait_with_sigmask, for a ppoll,
// pselect6 or epoll_pwait that carries a guest signal mask), those calls run
// on the host with this host signal mask, which unblocks the kick signal
// atomically with the wait: a guest signal that the guest mask lets through
// ends the wait with EINTR, however close to its start it comes.
void set_host_wait_mask(const sigset_t* m);

// Guest calls that may sleep in the host until something else happens (a
// pipe or socket read or write, accept, connect, wait4, waitid, a futex or
// file-lock wait, a sleep, SysV/POSIX message and semaphore waits).
// GuestThread::run_cancellable arms one of them for its whole run: every
// host call of that number the handlers make (detail::raw) is then
// platform::cancellable_syscall with the kick count taken before the
// thread's last test for a deliverable signal, so a kick that comes after
// that test ends or cancels the call instead of being lost
// (vmm/platform/host_kick.hpp). A cancelled call returns platform::kNotMade.
bool may_block_in_host(uint64_t nr);
struct ArmedCall {
    long nr = -1;       // the armed call's number; -1: none
    uint32_t seen = 0;  // platform::host_kicks() before the test
};
inline thread_local ArmedCall tl_armed_call;

// Text of the cpu online/possible override for n CPUs ("0\n", "0-3\n").
std::string cpu_range_text(unsigned n);

}  // namespace spanvm::process
