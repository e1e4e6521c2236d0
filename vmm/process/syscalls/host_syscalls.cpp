#include "vmm/process/syscalls/host_syscalls.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <string_view>

#include "vmm/base/self_pid.hpp"
#include "vmm/process/syscalls/host_syscalls_detail.hpp"

namespace spanvm::process {
namespace detail {

namespace {
thread_local const sigset_t* tl_wait_mask = nullptr;
}  // namespace

const sigset_t* host_wait_mask() { return tl_wait_mask; }

namespace {

const HandlerTable& handlers() {
    static const HandlerTable table = [] {
        HandlerTable t;
        register_fs(t);
        register_io(t);
        register_ioctl(t);
        register_misc(t);
        register_net(t);
        register_xattr(t);
        register_notify(t);
        register_ipc(t);
        return t;
    }();
    return table;
}

// The /proc/PID/fd/ or /proc/PID/fdinfo/ prefix of `p` where PID is this
// process's own pid (a shell's /proc/$$/fd/N), else empty.
std::string_view own_pid_fd_prefix(std::string_view p) {
    constexpr std::string_view kProc = "/proc/";
    if (p.size() <= kProc.size() || p.substr(0, kProc.size()) != kProc || p[kProc.size()] < '0' ||
        p[kProc.size()] > '9')
        return {};
    const size_t slash = p.find('/', kProc.size());
    if (slash == std::string_view::npos) return {};
    int pid = -1;
    const auto [end, ec] = std::from_chars(p.data() + kProc.size(), p.data() + slash, pid);
    if (ec != std::errc() || end != p.data() + slash || pid != self_pid()) return {};
    for (std::string_view leaf : {std::string_view("/fd/"), std::string_view("/fdinfo/")})
        if (p.substr(slash, leaf.size()) == leaf) return p.substr(0, slash + leaf.size());
    return {};
}

// Splits a /proc/self/fd/N[/rest] style path into prefix, N and rest
// (/dev/stdin, /dev/stdout and /dev/stderr: /dev/fd/ and 0, 1, 2);
// returns -1 when the path is not of that form.
int fd_path_number(std::string_view p, std::string_view& prefix, std::string_view& rest) {
    static constexpr std::string_view kPrefixes[] = {"/proc/self/fd/", "/proc/thread-self/fd/",
                                                     "/proc/self/fdinfo/", "/dev/fd/"};
    // udev's links to /proc/self/fd/0, 1 and 2: the guest's, not spanvm's.
    static constexpr std::string_view kStdio[] = {"/dev/stdin", "/dev/stdout", "/dev/stderr"};
    for (int i = 0; i < 3; ++i)
        if (p == kStdio[i]) {
            prefix = "/dev/fd/";
            rest = {};
            return i;
        }
    auto split = [&](std::string_view pre) {
        if (p.size() <= pre.size() || p.substr(0, pre.size()) != pre) return -2;  // not this prefix
        std::string_view tail = p.substr(pre.size());
        const size_t slash = tail.find('/');
        std::string_view num = tail.substr(0, slash);
        int n = -1;
        auto [end, ec] = std::from_chars(num.data(), num.data() + num.size(), n);
        if (ec != std::errc() || end != num.data() + num.size() || n < 0) return -1;
        prefix = pre;
        rest = slash == std::string_view::npos ? std::string_view() : tail.substr(slash);
        return n;
    };
    if (const std::string_view own = own_pid_fd_prefix(p); !own.empty()) return std::max(split(own), -1);
    for (std::string_view pre : kPrefixes)
        if (const int n = split(pre); n != -2) return n;
    return -1;
}

}  // namespace

int64_t guest_path(HostSyscallContext& ctx, uint64_t gva, GuestPath& out) {
    auto sv = ctx.mem.cstring(gva, kPathMax);
    if (!sv) return -sv.error().code;
    out.s.assign(sv->data(), sv->size());
    std::string_view prefix, rest;
    int n = fd_path_number(out.s, prefix, rest);
    if (n >= 0) {
        out.pin = ctx.fds.acquire(n);
        if (!out.pin) return -ENOENT;
        out.s = std::string(prefix) + std::to_string(out.pin->fd()) + std::string(rest);
    }
    return 0;
}

int64_t at_dir_fd(HostSyscallContext& ctx, uint64_t guest_dirfd, AtDir& out) {
    int d = as_int(guest_dirfd);
    if (d == AT_FDCWD) {
        out.fd = AT_FDCWD;
        return 0;
    }
    out.pin = ctx.fds.acquire(d);
    if (!out.pin) return -EBADF;
    out.fd = out.pin->fd();
    return 0;
}

int64_t at_dir(HostSyscallContext& ctx, uint64_t guest_dirfd, const GuestPath& path, AtDir& out) {
    if (path.absolute()) {
        out.fd = AT_FDCWD;
        return 0;
    }
    return at_dir_fd(ctx, guest_dirfd, out);
}

int64_t install_fd_pair(HostSyscallContext& ctx, const int host[2], bool cloexec, uint64_t out_gva) {
    const int g0 = ctx.fds.install(host[0], cloexec);  // install closes host[0] on failure
    if (g0 < 0) {
        ::close(host[1]);
        return g0;
    }
    const int g1 = ctx.fds.install(host[1], cloexec);
    if (g1 < 0) {
        (void)ctx.fds.close(g0);
        return g1;
    }
    const int out[2] = {g0, g1};
    if (!ctx.mem.write(out_gva, out)) {  // the window may have changed since the caller checked
        (void)ctx.fds.close(g0);
        (void)ctx.fds.close(g1);
        return -EFAULT;
    }
    return 0;
}

}  // namespace detail

int64_t host_syscall(HostSyscallContext& ctx, uint64_t nr, const SyscallArgs& a) {
    detail::Handler h = detail::handlers().find(nr);
    return h != nullptr ? h(ctx, a) : -ENOSYS;
}

void set_host_wait_mask(const sigset_t* m) { detail::tl_wait_mask = m; }

bool may_block_in_host(uint64_t nr) {
    switch (nr) {
        case SYS_read: case SYS_readv: case SYS_write: case SYS_writev:
        case SYS_recvfrom: case SYS_recvmsg: case SYS_recvmmsg: case SYS_sendto: case SYS_sendmsg: case SYS_sendmmsg:
        case SYS_accept: case SYS_accept4: case SYS_connect:
        case SYS_wait4: case SYS_waitid:
        case SYS_futex: case SYS_flock: case SYS_fcntl:
        case SYS_nanosleep: case SYS_clock_nanosleep:
        case SYS_msgrcv: case SYS_msgsnd: case SYS_semop: case SYS_semtimedop:
        case SYS_mq_timedsend: case SYS_mq_timedreceive:
        case SYS_sendfile: case SYS_splice: case SYS_tee:
            return true;
        default:
            return false;
    }
}

bool is_host_syscall(uint64_t nr) { return detail::handlers().find(nr) != nullptr; }

std::string cpu_range_text(unsigned n) {
    if (n <= 1) return "0\n";
    return "0-" + std::to_string(n - 1) + "\n";
}

}  // namespace spanvm::process
