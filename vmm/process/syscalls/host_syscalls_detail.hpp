#pragma once
// Internal to the host_syscalls*.cpp files: the handler table and the
// translation helpers they share. Not part of the public API.
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <string>

#include "vmm/platform/host_kick.hpp"
#include "vmm/process/syscalls/host_syscalls.hpp"
#include "vmm/process/syscalls/syscall_table.hpp"

namespace spanvm::process::detail {

using Handler = int64_t (*)(HostSyscallContext&, const SyscallArgs&);
using HandlerTable = SyscallTable<Handler>;

void register_fs(HandlerTable& t);    // host_syscalls_fs.cpp: paths, stat, open
void register_io(HandlerTable& t);    // host_syscalls_io.cpp: fd I/O, pipes, poll
void register_ioctl(HandlerTable& t); // host_syscalls_ioctl.cpp: terminals, ptys, fs ioctls
void register_misc(HandlerTable& t);  // host_syscalls_misc.cpp: time, ids, info
void register_net(HandlerTable& t);   // host_syscalls_net.cpp: sockets, select
void register_xattr(HandlerTable& t); // host_syscalls_xattr.cpp: xattrs, mknod, splice
void register_notify(HandlerTable& t); // host_syscalls_notify.cpp: inotify, pidfds
void register_ipc(HandlerTable& t);    // host_syscalls_ipc.cpp: SysV sem/msg/shm ids, POSIX mqueues

// The kernel reads fd (and int) arguments as the low 32 bits of the register.
// The host signal mask for the current thread's waits (set_host_wait_mask),
// or null; passed to ppoll/pselect6/epoll_pwait with kHostSigsetSize.
const sigset_t* host_wait_mask();
inline constexpr long kHostSigsetSize = 8;  // the kernel's sigset_t (_NSIG / 8)

inline int as_int(uint64_t v) { return static_cast<int>(static_cast<uint32_t>(v)); }
inline unsigned as_uint(uint64_t v) { return static_cast<unsigned>(v); }
inline long P(const void* p) { return reinterpret_cast<long>(p); }

// The real host syscall; -errno on failure. Every argument is passed as a
// full long so syscall(2)'s va_arg(long) reads defined values. The call the
// thread armed (tl_armed_call, may_block_in_host) is kick-cancellable: it
// may return platform::kNotMade instead, having done nothing.
inline int64_t raw(long nr, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0, long f = 0) {
    if (nr == tl_armed_call.nr) return platform::cancellable_syscall(tl_armed_call.seen, nr, a, b, c, d, e, f);
    long r = ::syscall(nr, a, b, c, d, e, f);
    return r == -1 ? -static_cast<int64_t>(errno) : r;
}

inline constexpr size_t kPathMax = 4096;  // PATH_MAX, including the NUL

// A guest path copied into VMM memory. Paths naming a guest fd through
// /proc/self/fd/N[/...], /proc/thread-self/fd/N, /proc/self/fdinfo/N,
// /dev/fd/N, /dev/stdin, /dev/stdout, /dev/stderr, or /proc/PID/fd/N and
// /proc/PID/fdinfo/N of the process's own
// pid, are rewritten to the host fd (pinned by `pin`); an unmapped N gives
// -ENOENT. This covers the spellings libc and shells use (ttyname, fexecve,
// realpath, /proc/$$/fd); it is NOT a security boundary: other spellings
// ("/proc/self/./fd/N", symlink tricks) reach host numbers, and another
// process's /proc/PID/fd is the host's view of that process.
struct GuestPath {
    std::string s;
    FdRef pin;
    const char* c_str() const { return s.c_str(); }
    bool absolute() const { return !s.empty() && s[0] == '/'; }
};
// 0, -EFAULT, -ENAMETOOLONG or -ENOENT.
int64_t guest_path(HostSyscallContext& ctx, uint64_t gva, GuestPath& out);

// Whether `p` names the process's own executable link (/proc/self/exe,
// /proc/thread-self/exe, /proc/PID/exe of its own pid), and `p` made the
// guest program's path (ctx.guest_exe) where it does: what an open, a stat
// or an execve that follows the link reaches (host_syscalls_fs.cpp).
bool is_own_exe(const GuestPath& p);
void follow_own_exe(HostSyscallContext& ctx, GuestPath& p);

// Host dirfd for an *at call: AT_FDCWD for AT_FDCWD or an absolute path,
// else the pinned translation of the guest dirfd (-EBADF if unmapped).
struct AtDir {
    FdRef pin;
    int fd = AT_FDCWD;
};
int64_t at_dir(HostSyscallContext& ctx, uint64_t guest_dirfd, const GuestPath& path, AtDir& out);
// Same without a path (AT_EMPTY_PATH / NULL path forms).
int64_t at_dir_fd(HostSyscallContext& ctx, uint64_t guest_dirfd, AtDir& out);

// Install a host fd the guest just created; closes it and returns the errno
// if the table is full. cloexec is the guest's flag.
inline int64_t install_new(HostSyscallContext& ctx, int64_t host_fd, bool cloexec) {
    if (host_fd < 0) return host_fd;
    return ctx.fds.install(static_cast<int>(host_fd), cloexec);
}

// Installs a freshly created host fd pair (pipe2, socketpair) as two guest
// fds and writes them to the guest's int[2] at `out_gva`. On any failure no
// fd is left behind (neither host nor guest) and -errno is returned.
int64_t install_fd_pair(HostSyscallContext& ctx, const int host[2], bool cloexec, uint64_t out_gva);

}  // namespace spanvm::process::detail
