// fd-based host syscalls: read/write families, dup/fcntl, pipes, poll,
// epoll, eventfd, timerfd, memfd. See host_syscalls.hpp for the rules.
#include <linux/close_range.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/timerfd.h>

#include <climits>
#include <span>
#include <cstring>
#include <ctime>
#include <vector>

#include "vmm/process/syscalls/host_syscalls_detail.hpp"
#include "vmm/process/syscalls/proc_fd_dir.hpp"

namespace spanvm::process::detail {
namespace {

constexpr uint64_t kFlockSize = 32;        // struct flock (x86-64)
constexpr uint64_t kFOwnerExSize = 8;      // struct f_owner_ex
constexpr uint64_t kEpollEventSize = 12;   // packed on x86-64
constexpr uint64_t kItimerspecSize = 32;
static_assert(sizeof(struct flock) == kFlockSize && sizeof(epoll_event) == kEpollEventSize);
static_assert(sizeof(struct f_owner_ex) == kFOwnerExSize);
static_assert(sizeof(itimerspec) == kItimerspecSize && sizeof(pollfd) == 8);

// nr(fd, a1..a5): integer arguments after the fd.
template <long NR>
int64_t fd_call(HostSyscallContext& ctx, const SyscallArgs& a) {
    FdRef f = ctx.fds.acquire(as_int(a[0]));
    if (!f) return -EBADF;
    return raw(NR, f->fd(), static_cast<long>(a[1]), static_cast<long>(a[2]), static_cast<long>(a[3]),
               static_cast<long>(a[4]), static_cast<long>(a[5]));
}

// nr(fd, buf, count, a3): read, write, pread64, pwrite64, getdents(64).
template <long NR>
int64_t fd_buf_call(HostSyscallContext& ctx, const SyscallArgs& a) {
    FdRef f = ctx.fds.acquire(as_int(a[0]));
    if (!f) return -EBADF;
    uint8_t* buf = ctx.mem.ptr(a[1], a[2]);
    if (buf == nullptr) return -EFAULT;
    return raw(NR, f->fd(), P(buf), static_cast<long>(a[2]), static_cast<long>(a[3]));
}

// nr(fd, iov, cnt, a3, a4, a5): readv, writev, preadv(2), pwritev(2).
template <long NR>
int64_t fd_iov_call(HostSyscallContext& ctx, const SyscallArgs& a) {
    FdRef f = ctx.fds.acquire(as_int(a[0]));
    if (!f) return -EBADF;
    auto iov = ctx.mem.iovecs(a[1], a[2]);
    if (!iov) return -iov.error().code;
    return raw(NR, f->fd(), P(iov->data()), static_cast<long>(iov->size()), static_cast<long>(a[3]),
               static_cast<long>(a[4]), static_cast<long>(a[5]));
}

// getdents64: the host's listing, but the guest's table for its own
// /proc/PID/fd(info) (proc_fd_dir.hpp), whose position is the host
// directory's offset.
int64_t sys_getdents64(HostSyscallContext& ctx, const SyscallArgs& a) {
    FdRef f = ctx.fds.acquire(as_int(a[0]));
    if (!f) return -EBADF;
    uint8_t* buf = ctx.mem.ptr(a[1], a[2]);
    if (buf == nullptr) return -EFAULT;
    if (f->proc_fd_dir() == ProcFdDir::none)
        return raw(SYS_getdents64, f->fd(), P(buf), static_cast<long>(a[2]));
    const int64_t at = raw(SYS_lseek, f->fd(), 0, SEEK_CUR);
    if (at < 0) return at;
    uint64_t pos = static_cast<uint64_t>(at);
    const int64_t n = write_fd_dirents(std::span<uint8_t>(buf, a[2]), pos, ctx.fds.guest_fds(), f->proc_fd_dir());
    if (n > 0) (void)raw(SYS_lseek, f->fd(), static_cast<long>(pos), SEEK_SET);
    return n;
}

int64_t sys_close(HostSyscallContext& ctx, const SyscallArgs& a) { return ctx.fds.close(as_int(a[0])); }

// CLOSE_RANGE_UNSHARE is accepted and meaningless: there is one table.
int64_t sys_close_range(HostSyscallContext& ctx, const SyscallArgs& a) {
    const unsigned first = as_uint(a[0]), last = as_uint(a[1]);
    const uint64_t flags = a[2];
    if ((flags & ~uint64_t{CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC}) != 0 || first > last) return -EINVAL;
    ctx.fds.close_range(first, last, (flags & CLOSE_RANGE_CLOEXEC) != 0);
    return 0;
}

// A fresh host fd for the same open file description.
int64_t host_dup(const FdRef& f) { return raw(SYS_fcntl, f->fd(), F_DUPFD_CLOEXEC, 0); }

int64_t sys_dup(HostSyscallContext& ctx, const SyscallArgs& a) {
    FdRef f = ctx.fds.acquire(as_int(a[0]));
    if (!f) return -EBADF;
    int64_t h = host_dup(f);
    return h < 0 ? h : ctx.fds.install(static_cast<int>(h), false, f->traits());
}

int64_t do_dup3(HostSyscallContext& ctx, int oldfd, int newfd, bool cloexec) {
    FdRef f = ctx.fds.acquire(oldfd);
    if (!f) return -EBADF;
    if (newfd < 0 || newfd >= ctx.fds.limit()) return -EBADF;
    int64_t h = host_dup(f);
    if (h < 0) return h;
    return ctx.fds.install_at(newfd, static_cast<int>(h), cloexec, f->traits());
}

int64_t sys_dup2(HostSyscallContext& ctx, const SyscallArgs& a) {
    const int oldfd = as_int(a[0]), newfd = as_int(a[1]);
    if (oldfd == newfd) return ctx.fds.is_open(oldfd) ? newfd : -EBADF;
    return do_dup3(ctx, oldfd, newfd, false);
}

int64_t sys_dup3(HostSyscallContext& ctx, const SyscallArgs& a) {
    const int oldfd = as_int(a[0]), newfd = as_int(a[1]);
    if ((a[2] & ~uint64_t{O_CLOEXEC}) != 0 || oldfd == newfd) return -EINVAL;
    return do_dup3(ctx, oldfd, newfd, (a[2] & O_CLOEXEC) != 0);
}

int64_t sys_fcntl(HostSyscallContext& ctx, const SyscallArgs& a) {
    const int gfd = as_int(a[0]);
    FdRef f = ctx.fds.acquire(gfd);
    if (!f) return -EBADF;
    const int cmd = as_int(a[1]);
    switch (cmd) {
        case F_DUPFD:
        case F_DUPFD_CLOEXEC: {
            const int min_fd = as_int(a[2]);
            if (min_fd < 0 || min_fd >= ctx.fds.limit()) return -EINVAL;
            int64_t h = host_dup(f);
            if (h < 0) return h;
            return ctx.fds.install_from(min_fd, static_cast<int>(h), cmd == F_DUPFD_CLOEXEC, f->traits());
        }
        case F_GETFD: {
            int c = ctx.fds.get_cloexec(gfd);
            return c < 0 ? c : (c != 0 ? FD_CLOEXEC : 0);
        }
        case F_SETFD:
            return ctx.fds.set_cloexec(gfd, (a[2] & FD_CLOEXEC) != 0);
        case F_GETFL: {
            // The host fd is always O_CLOEXEC; the guest's flag is in the table.
            int64_t r = raw(SYS_fcntl, f->fd(), F_GETFL);
            return r < 0 ? r : (r & ~int64_t{O_CLOEXEC});
        }
        case F_SETFL:
        case F_GETPIPE_SZ:
        case F_SETPIPE_SZ:
        case F_ADD_SEALS:
        case F_GET_SEALS:
        // Signal-driven I/O, leases, directory notification: the owner is
        // a host pid (guest pid == host pid), the signal is sent to the
        // host process and forwarded to the guest as any other.
        case F_GETOWN:
        case F_SETOWN:
        case F_GETSIG:
        case F_SETSIG:
        case F_GETLEASE:
        case F_SETLEASE:
        case F_NOTIFY:
            return raw(SYS_fcntl, f->fd(), cmd, static_cast<long>(a[2]));
        case F_GETOWN_EX: {
            uint8_t* own = ctx.mem.wptr(a[2], kFOwnerExSize);
            if (own == nullptr) return -EFAULT;
            return raw(SYS_fcntl, f->fd(), cmd, P(own));
        }
        case F_SETOWN_EX: {
            const uint8_t* own = ctx.mem.ptr(a[2], kFOwnerExSize);
            if (own == nullptr) return -EFAULT;
            return raw(SYS_fcntl, f->fd(), cmd, P(own));
        }
        case F_GETLK:
        case F_SETLK:
        case F_SETLKW:
        case F_OFD_GETLK:
        case F_OFD_SETLK:
        case F_OFD_SETLKW: {
            uint8_t* lk = ctx.mem.ptr(a[2], kFlockSize);
            if (lk == nullptr) return -EFAULT;
            return raw(SYS_fcntl, f->fd(), cmd, P(lk));
        }
        default:
            return -EINVAL;
    }
}

int64_t do_pipe2(HostSyscallContext& ctx, uint64_t fds_gva, uint64_t flags) {
    if (!ctx.mem.valid(fds_gva, 2 * sizeof(int))) return -EFAULT;
    int host[2];
    int64_t r = raw(SYS_pipe2, P(host), static_cast<long>(flags | O_CLOEXEC));
    if (r < 0) return r;
    return install_fd_pair(ctx, host, (flags & O_CLOEXEC) != 0, fds_gva);
}
int64_t sys_pipe(HostSyscallContext& ctx, const SyscallArgs& a) { return do_pipe2(ctx, a[0], 0); }
int64_t sys_pipe2(HostSyscallContext& ctx, const SyscallArgs& a) { return do_pipe2(ctx, a[0], a[1]); }

// poll/ppoll core. tmo == nullptr blocks; the host may update *tmo with the
// time left. Guest fds that are not open report POLLNVAL (and make the call
// not block), as Linux does; they are never passed to the host.
int64_t do_poll(HostSyscallContext& ctx, uint64_t fds_gva, uint64_t nfds, timespec* tmo) {
    if (nfds > static_cast<uint64_t>(ctx.fds.limit())) return -EINVAL;
    uint8_t* gp = ctx.mem.wptr(fds_gva, nfds * sizeof(pollfd));
    if (gp == nullptr) return -EFAULT;
    std::vector<pollfd> host(nfds);
    std::vector<FdRef> pins(nfds);
    std::vector<bool> nval(nfds, false);
    std::memcpy(host.data(), gp, nfds * sizeof(pollfd));
    int64_t n_nval = 0;
    for (size_t i = 0; i < nfds; ++i) {
        host[i].revents = 0;
        if (host[i].fd < 0) continue;  // ignored, as in Linux
        pins[i] = ctx.fds.acquire(host[i].fd);
        if (!pins[i]) {
            nval[i] = true;
            ++n_nval;
            host[i].fd = -1;
        } else {
            host[i].fd = pins[i]->fd();
        }
    }
    timespec zero{0, 0};
    const sigset_t* wm = host_wait_mask();
    int64_t r = raw(SYS_ppoll, P(host.data()), static_cast<long>(nfds), P(n_nval > 0 ? &zero : tmo), P(wm),
                    wm ? kHostSigsetSize : 0);
    if (r < 0) return r;
    for (size_t i = 0; i < nfds; ++i) {
        const short rev = nval[i] ? static_cast<short>(POLLNVAL) : host[i].revents;
        std::memcpy(gp + i * sizeof(pollfd) + offsetof(pollfd, revents), &rev, sizeof(rev));
    }
    return r + n_nval;
}

int64_t sys_poll(HostSyscallContext& ctx, const SyscallArgs& a) {
    const int ms = as_int(a[2]);
    timespec t{ms / 1000, static_cast<long>(ms % 1000) * 1000000L};
    return do_poll(ctx, a[0], a[1], ms < 0 ? nullptr : &t);
}

// ppoll(fds, nfds, tmo|NULL, sigmask (ignored), sigsetsize).
int64_t sys_ppoll(HostSyscallContext& ctx, const SyscallArgs& a) {
    if (a[2] == 0) return do_poll(ctx, a[0], a[1], nullptr);
    auto t = ctx.mem.read<timespec>(a[2]);
    if (!t) return -EFAULT;
    timespec left = *t;
    int64_t r = do_poll(ctx, a[0], a[1], &left);
    // Linux writes the remaining time back and ignores a fault doing so.
    (void)ctx.mem.write(a[2], left);
    return r;
}

int64_t sys_sendfile(HostSyscallContext& ctx, const SyscallArgs& a) {
    FdRef out = ctx.fds.acquire(as_int(a[0]));
    FdRef in = ctx.fds.acquire(as_int(a[1]));
    if (!out || !in) return -EBADF;
    uint8_t* off = nullptr;
    if (a[2] != 0 && (off = ctx.mem.ptr(a[2], sizeof(int64_t))) == nullptr) return -EFAULT;
    return raw(SYS_sendfile, out->fd(), in->fd(), P(off), static_cast<long>(a[3]));
}

int64_t sys_copy_file_range(HostSyscallContext& ctx, const SyscallArgs& a) {
    FdRef in = ctx.fds.acquire(as_int(a[0]));
    FdRef out = ctx.fds.acquire(as_int(a[2]));
    if (!out || !in) return -EBADF;
    uint8_t* off_in = nullptr;
    uint8_t* off_out = nullptr;
    if (a[1] != 0 && (off_in = ctx.mem.ptr(a[1], sizeof(int64_t))) == nullptr) return -EFAULT;
    if (a[3] != 0 && (off_out = ctx.mem.ptr(a[3], sizeof(int64_t))) == nullptr) return -EFAULT;
    return raw(SYS_copy_file_range, in->fd(), P(off_in), out->fd(), P(off_out), static_cast<long>(a[4]),
               static_cast<long>(a[5]));
}

// memfd_create(name, flags): name limit is MFD_NAME_MAX_LEN (249) -> EINVAL.
int64_t sys_memfd_create(HostSyscallContext& ctx, const SyscallArgs& a) {
    auto name = ctx.mem.cstring(a[0], 250);
    if (!name) return name.error().code == ENAMETOOLONG ? -EINVAL : -name.error().code;
    const std::string n(*name);
    return install_new(ctx, raw(SYS_memfd_create, P(n.c_str()), static_cast<long>(a[1] | MFD_CLOEXEC)),
                       (a[1] & MFD_CLOEXEC) != 0);
}

int64_t sys_eventfd(HostSyscallContext& ctx, const SyscallArgs& a) {
    return install_new(ctx, raw(SYS_eventfd2, static_cast<long>(a[0]), EFD_CLOEXEC), false);
}
int64_t sys_eventfd2(HostSyscallContext& ctx, const SyscallArgs& a) {
    return install_new(ctx, raw(SYS_eventfd2, static_cast<long>(a[0]), static_cast<long>(a[1] | EFD_CLOEXEC)),
                       (a[1] & EFD_CLOEXEC) != 0);
}

int64_t sys_epoll_create(HostSyscallContext& ctx, const SyscallArgs& a) {
    if (as_int(a[0]) <= 0) return -EINVAL;
    return install_new(ctx, raw(SYS_epoll_create1, EPOLL_CLOEXEC), false);
}
int64_t sys_epoll_create1(HostSyscallContext& ctx, const SyscallArgs& a) {
    return install_new(ctx, raw(SYS_epoll_create1, static_cast<long>(a[0] | EPOLL_CLOEXEC)),
                       (a[0] & EPOLL_CLOEXEC) != 0);
}

// epoll_ctl(epfd, op, fd, event|NULL): event.data is opaque guest data.
int64_t sys_epoll_ctl(HostSyscallContext& ctx, const SyscallArgs& a) {
    FdRef ep = ctx.fds.acquire(as_int(a[0]));
    FdRef f = ctx.fds.acquire(as_int(a[2]));
    if (!ep || !f) return -EBADF;
    epoll_event ev{};
    const bool has_event = as_int(a[1]) != EPOLL_CTL_DEL || a[3] != 0;
    if (has_event) {
        auto e = ctx.mem.read<epoll_event>(a[3]);
        if (!e) return -EFAULT;
        ev = *e;
    }
    return raw(SYS_epoll_ctl, ep->fd(), static_cast<long>(a[1]), f->fd(), has_event ? P(&ev) : 0);
}

// The epoll fd and the guest's event array of epoll_wait, epoll_pwait and
// epoll_pwait2 (fd, events, maxevents, ...): 0, or the call's error.
struct EpollWait {
    FdRef ep;
    uint8_t* events = nullptr;
    int max = 0;
};
int64_t epoll_wait_args(HostSyscallContext& ctx, const SyscallArgs& a, EpollWait& w) {
    w.ep = ctx.fds.acquire(as_int(a[0]));
    if (!w.ep) return -EBADF;
    w.max = as_int(a[2]);
    if (w.max <= 0 || static_cast<uint64_t>(w.max) > INT_MAX / kEpollEventSize) return -EINVAL;
    w.events = ctx.mem.ptr(a[1], static_cast<uint64_t>(w.max) * kEpollEventSize);
    return w.events == nullptr ? -EFAULT : 0;
}

// epoll_wait / epoll_pwait (sigmask ignored): events are written straight
// into guest memory; their data fields are the guest's own.
int64_t sys_epoll_wait(HostSyscallContext& ctx, const SyscallArgs& a) {
    EpollWait w;
    if (int64_t r = epoll_wait_args(ctx, a, w); r < 0) return r;
    const sigset_t* wm = host_wait_mask();
    if (wm) return raw(SYS_epoll_pwait, w.ep->fd(), P(w.events), w.max, as_int(a[3]), P(wm), kHostSigsetSize);
    return raw(SYS_epoll_wait, w.ep->fd(), P(w.events), w.max, as_int(a[3]));
}

// epoll_pwait2: epoll_pwait with a timespec timeout (NULL: no limit).
int64_t sys_epoll_pwait2(HostSyscallContext& ctx, const SyscallArgs& a) {
    EpollWait w;
    if (int64_t r = epoll_wait_args(ctx, a, w); r < 0) return r;
    constexpr uint64_t kTimespecSize = 16;
    const uint8_t* ts = a[3] ? ctx.mem.ptr(a[3], kTimespecSize) : nullptr;
    if (a[3] && ts == nullptr) return -EFAULT;
    const sigset_t* wm = host_wait_mask();
    return raw(SYS_epoll_pwait2, w.ep->fd(), P(w.events), w.max, P(ts), P(wm), wm ? kHostSigsetSize : 0);
}

int64_t sys_timerfd_create(HostSyscallContext& ctx, const SyscallArgs& a) {
    return install_new(ctx, raw(SYS_timerfd_create, as_int(a[0]), static_cast<long>(a[1] | TFD_CLOEXEC)),
                       (a[1] & TFD_CLOEXEC) != 0);
}

int64_t sys_timerfd_settime(HostSyscallContext& ctx, const SyscallArgs& a) {
    FdRef f = ctx.fds.acquire(as_int(a[0]));
    if (!f) return -EBADF;
    auto nv = ctx.mem.read<itimerspec>(a[2]);
    if (!nv) return -EFAULT;
    uint8_t* old = nullptr;
    if (a[3] != 0 && (old = ctx.mem.ptr(a[3], kItimerspecSize)) == nullptr) return -EFAULT;
    const itimerspec v = *nv;
    return raw(SYS_timerfd_settime, f->fd(), static_cast<long>(a[1]), P(&v), P(old));
}

int64_t sys_timerfd_gettime(HostSyscallContext& ctx, const SyscallArgs& a) {
    FdRef f = ctx.fds.acquire(as_int(a[0]));
    if (!f) return -EBADF;
    uint8_t* cur = ctx.mem.ptr(a[1], kItimerspecSize);
    if (cur == nullptr) return -EFAULT;
    return raw(SYS_timerfd_gettime, f->fd(), P(cur));
}

}  // namespace

void register_io(HandlerTable& t) {
    t.add(SYS_read, fd_buf_call<SYS_read>);
    t.add(SYS_write, fd_buf_call<SYS_write>);
    t.add(SYS_pread64, fd_buf_call<SYS_pread64>);
    t.add(SYS_pwrite64, fd_buf_call<SYS_pwrite64>);
    t.add(SYS_getdents, fd_buf_call<SYS_getdents>);
    t.add(SYS_getdents64, sys_getdents64);
    t.add(SYS_readv, fd_iov_call<SYS_readv>);
    t.add(SYS_writev, fd_iov_call<SYS_writev>);
    t.add(SYS_preadv, fd_iov_call<SYS_preadv>);
    t.add(SYS_pwritev, fd_iov_call<SYS_pwritev>);
    t.add(SYS_preadv2, fd_iov_call<SYS_preadv2>);
    t.add(SYS_pwritev2, fd_iov_call<SYS_pwritev2>);
    t.add(SYS_lseek, fd_call<SYS_lseek>);
    t.add(SYS_fchdir, fd_call<SYS_fchdir>);
    t.add(SYS_fchmod, fd_call<SYS_fchmod>);
    t.add(SYS_fchown, fd_call<SYS_fchown>);
    t.add(SYS_ftruncate, fd_call<SYS_ftruncate>);
    t.add(SYS_fsync, fd_call<SYS_fsync>);
    t.add(SYS_fdatasync, fd_call<SYS_fdatasync>);
    t.add(SYS_syncfs, fd_call<SYS_syncfs>);
    t.add(SYS_sync_file_range, fd_call<SYS_sync_file_range>);
    t.add(SYS_fadvise64, fd_call<SYS_fadvise64>);
    t.add(SYS_readahead, fd_call<SYS_readahead>);
    t.add(SYS_fallocate, fd_call<SYS_fallocate>);
    t.add(SYS_flock, fd_call<SYS_flock>);
    t.add(SYS_close, sys_close);
    t.add(SYS_close_range, sys_close_range);
    t.add(SYS_dup, sys_dup);
    t.add(SYS_dup2, sys_dup2);
    t.add(SYS_dup3, sys_dup3);
    t.add(SYS_fcntl, sys_fcntl);
    t.add(SYS_pipe, sys_pipe);
    t.add(SYS_pipe2, sys_pipe2);
    t.add(SYS_poll, sys_poll);
    t.add(SYS_ppoll, sys_ppoll);
    t.add(SYS_sendfile, sys_sendfile);
    t.add(SYS_copy_file_range, sys_copy_file_range);
    t.add(SYS_memfd_create, sys_memfd_create);
    t.add(SYS_eventfd, sys_eventfd);
    t.add(SYS_eventfd2, sys_eventfd2);
    t.add(SYS_epoll_create, sys_epoll_create);
    t.add(SYS_epoll_create1, sys_epoll_create1);
    t.add(SYS_epoll_ctl, sys_epoll_ctl);
    t.add(SYS_epoll_wait, sys_epoll_wait);
    t.add(SYS_epoll_pwait, sys_epoll_wait);  // sigmask (a[4]) ignored, see header
    t.add(SYS_epoll_pwait2, sys_epoll_pwait2);
    t.add(SYS_timerfd_create, sys_timerfd_create);
    t.add(SYS_timerfd_settime, sys_timerfd_settime);
    t.add(SYS_timerfd_gettime, sys_timerfd_gettime);
}

}  // namespace spanvm::process::detail
