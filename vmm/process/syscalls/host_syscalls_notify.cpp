// Host syscalls that hand out notification fds: inotify (file events) and
// pidfds (a process as an fd). See host_syscalls.hpp for the rules.
//
// inotify watches host paths, which are the guest's (no path translation
// but /proc/self/fd/N's, guest_path). Watch descriptors are the host's.
//
// pidfd_open takes a guest pid, which is a host pid (a guest process is a
// spanvm host process); the fd polls readable when that process ends, as
// on Linux. pidfd_send_signal sends the host signal, which the receiving
// process's forwarder turns into its guest signal (as kill to another
// process does; to itself too). waitid(P_PIDFD) is the process table's
// (process_syscalls_children.cpp). Not supported: pidfd_getfd (the target's
// fd numbers are its guest table's, which this process cannot read).
#include <sys/inotify.h>
#include <sys/syscall.h>

#include "vmm/process/syscalls/host_syscalls_detail.hpp"

namespace spanvm::process::detail {
namespace {

constexpr uint64_t kSiginfoSize = 128;
constexpr uint64_t kPidfdNonblock = O_NONBLOCK;  // PIDFD_NONBLOCK

int64_t sys_inotify_init1(HostSyscallContext& ctx, const SyscallArgs& a) {
    const long flags = static_cast<long>(as_int(a[0]));
    if (flags & ~long{IN_NONBLOCK | IN_CLOEXEC}) return -EINVAL;
    return install_new(ctx, raw(SYS_inotify_init1, flags | IN_CLOEXEC), (flags & IN_CLOEXEC) != 0);
}

int64_t sys_inotify_init(HostSyscallContext& ctx, const SyscallArgs&) {
    return install_new(ctx, raw(SYS_inotify_init1, IN_CLOEXEC), false);
}

int64_t sys_inotify_add_watch(HostSyscallContext& ctx, const SyscallArgs& a) {
    FdRef f = ctx.fds.acquire(as_int(a[0]));
    if (!f) return -EBADF;
    GuestPath p;
    if (int64_t r = guest_path(ctx, a[1], p); r < 0) return r;
    return raw(SYS_inotify_add_watch, f->fd(), P(p.c_str()), static_cast<long>(as_uint(a[2])));
}

int64_t sys_inotify_rm_watch(HostSyscallContext& ctx, const SyscallArgs& a) {
    FdRef f = ctx.fds.acquire(as_int(a[0]));
    if (!f) return -EBADF;
    return raw(SYS_inotify_rm_watch, f->fd(), static_cast<long>(as_int(a[1])));
}

int64_t sys_pidfd_open(HostSyscallContext& ctx, const SyscallArgs& a) {
    const long flags = static_cast<long>(as_uint(a[1]));
    if (flags & ~static_cast<long>(kPidfdNonblock)) return -EINVAL;
    // A pidfd is always close-on-exec (pidfd_open(2)).
    return install_new(ctx, raw(SYS_pidfd_open, static_cast<long>(as_int(a[0])), flags), true);
}

int64_t sys_pidfd_send_signal(HostSyscallContext& ctx, const SyscallArgs& a) {
    FdRef f = ctx.fds.acquire(as_int(a[0]));
    if (!f) return -EBADF;
    const uint8_t* info = nullptr;
    if (a[2] && !(info = ctx.mem.ptr(a[2], kSiginfoSize))) return -EFAULT;
    return raw(SYS_pidfd_send_signal, f->fd(), static_cast<long>(as_int(a[1])), P(info),
               static_cast<long>(as_uint(a[3])));
}

}  // namespace

void register_notify(HandlerTable& t) {
    t.add(SYS_inotify_init, sys_inotify_init);
    t.add(SYS_inotify_init1, sys_inotify_init1);
    t.add(SYS_inotify_add_watch, sys_inotify_add_watch);
    t.add(SYS_inotify_rm_watch, sys_inotify_rm_watch);
    t.add(SYS_pidfd_open, sys_pidfd_open);
    t.add(SYS_pidfd_send_signal, sys_pidfd_send_signal);
}

}  // namespace spanvm::process::detail
