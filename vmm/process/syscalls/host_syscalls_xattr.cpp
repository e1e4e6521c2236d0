// Extended attributes ({,l,f}{get,set,list,remove}xattr), mknod(at) and
// splice/tee as host syscalls. See host_syscalls.hpp for the rules.
//
// xattr names are copied out of the guest (empty or longer than
// XATTR_NAME_MAX is -ERANGE, as in the kernel); value/list buffers are
// translated in place after the kernel's own clamps (get/list sizes above
// XATTR_SIZE_MAX / XATTR_LIST_MAX are clamped, set sizes above it are
// -E2BIG), so the validated range is the one the host kernel touches.
#include <linux/limits.h>
#include <sys/stat.h>

#include <algorithm>
#include <string>

#include "vmm/process/syscalls/host_syscalls_detail.hpp"

namespace spanvm::process::detail {
namespace {

constexpr uint64_t kXattrSizeMax = XATTR_SIZE_MAX;  // 65536
constexpr uint64_t kXattrListMax = XATTR_LIST_MAX;  // 65536

int64_t xattr_name(HostSyscallContext& ctx, uint64_t gva, std::string& out) {
    auto n = ctx.mem.cstring(gva, XATTR_NAME_MAX + 1);
    if (!n) return n.error().code == ENAMETOOLONG ? -ERANGE : -n.error().code;
    if (n->empty()) return -ERANGE;
    out.assign(n->data(), n->size());
    return 0;
}

// The object an xattr call names: a path (stat-like or l-variant) or a fd.
struct XattrTarget {
    GuestPath path;
    FdRef fd;
};

enum class Kind { Path, Fd };

template <Kind K>
int64_t xattr_target(HostSyscallContext& ctx, uint64_t arg, XattrTarget& t) {
    if constexpr (K == Kind::Fd) {
        t.fd = ctx.fds.acquire(as_int(arg));
        return t.fd ? 0 : -EBADF;
    } else {
        return guest_path(ctx, arg, t.path);
    }
}

template <Kind K>
long target_arg(const XattrTarget& t) {
    if constexpr (K == Kind::Fd) {
        return t.fd->fd();
    } else {
        return P(t.path.c_str());
    }
}

// getxattr family: nr(target, name, value, size); size 0 asks for the length.
template <long NR, Kind K>
int64_t get_xattr(HostSyscallContext& ctx, const SyscallArgs& a) {
    XattrTarget t;
    if (int64_t r = xattr_target<K>(ctx, a[0], t); r < 0) return r;
    std::string name;
    if (int64_t r = xattr_name(ctx, a[1], name); r < 0) return r;
    const uint64_t size = std::min(a[3], kXattrSizeMax);
    uint8_t* value = size == 0 ? nullptr : ctx.mem.ptr(a[2], size);
    if (size != 0 && value == nullptr) return -EFAULT;
    return raw(NR, target_arg<K>(t), P(name.c_str()), P(value), static_cast<long>(size));
}

// listxattr family: nr(target, list, size).
template <long NR, Kind K>
int64_t list_xattr(HostSyscallContext& ctx, const SyscallArgs& a) {
    XattrTarget t;
    if (int64_t r = xattr_target<K>(ctx, a[0], t); r < 0) return r;
    const uint64_t size = std::min(a[2], kXattrListMax);
    uint8_t* list = size == 0 ? nullptr : ctx.mem.ptr(a[1], size);
    if (size != 0 && list == nullptr) return -EFAULT;
    return raw(NR, target_arg<K>(t), P(list), static_cast<long>(size));
}

// setxattr family: nr(target, name, value, size, flags). The kernel copies
// the value once.
template <long NR, Kind K>
int64_t set_xattr(HostSyscallContext& ctx, const SyscallArgs& a) {
    XattrTarget t;
    if (int64_t r = xattr_target<K>(ctx, a[0], t); r < 0) return r;
    std::string name;
    if (int64_t r = xattr_name(ctx, a[1], name); r < 0) return r;
    if (a[3] > kXattrSizeMax) return -E2BIG;
    const uint8_t* value = a[3] == 0 ? nullptr : ctx.mem.ptr(a[2], a[3]);
    if (a[3] != 0 && value == nullptr) return -EFAULT;
    return raw(NR, target_arg<K>(t), P(name.c_str()), P(value), static_cast<long>(a[3]), as_int(a[4]));
}

// removexattr family: nr(target, name).
template <long NR, Kind K>
int64_t remove_xattr(HostSyscallContext& ctx, const SyscallArgs& a) {
    XattrTarget t;
    if (int64_t r = xattr_target<K>(ctx, a[0], t); r < 0) return r;
    std::string name;
    if (int64_t r = xattr_name(ctx, a[1], name); r < 0) return r;
    return raw(NR, target_arg<K>(t), P(name.c_str()));
}

// mknod(path, mode, dev) / mknodat(dirfd, path, mode, dev): passed through.
int64_t sys_mknod(HostSyscallContext& ctx, const SyscallArgs& a) {
    GuestPath p;
    if (int64_t r = guest_path(ctx, a[0], p); r < 0) return r;
    return raw(SYS_mknodat, AT_FDCWD, P(p.c_str()), static_cast<long>(as_uint(a[1])), static_cast<long>(as_uint(a[2])));
}

int64_t sys_mknodat(HostSyscallContext& ctx, const SyscallArgs& a) {
    GuestPath p;
    if (int64_t r = guest_path(ctx, a[1], p); r < 0) return r;
    AtDir d;
    if (int64_t r = at_dir(ctx, a[0], p, d); r < 0) return r;
    return raw(SYS_mknodat, d.fd, P(p.c_str()), static_cast<long>(as_uint(a[2])), static_cast<long>(as_uint(a[3])));
}

// splice(fd_in, off_in*|NULL, fd_out, off_out*|NULL, len, flags): the
// loff_t offsets are read and updated by the host in guest memory.
int64_t sys_splice(HostSyscallContext& ctx, const SyscallArgs& a) {
    FdRef in = ctx.fds.acquire(as_int(a[0]));
    FdRef out = ctx.fds.acquire(as_int(a[2]));
    if (!in || !out) return -EBADF;
    uint8_t* off_in = nullptr;
    uint8_t* off_out = nullptr;
    if (a[1] != 0 && (off_in = ctx.mem.ptr(a[1], sizeof(int64_t))) == nullptr) return -EFAULT;
    if (a[3] != 0 && (off_out = ctx.mem.ptr(a[3], sizeof(int64_t))) == nullptr) return -EFAULT;
    return raw(SYS_splice, in->fd(), P(off_in), out->fd(), P(off_out), static_cast<long>(a[4]),
               static_cast<long>(as_uint(a[5])));
}

// tee(fd_in, fd_out, len, flags).
int64_t sys_tee(HostSyscallContext& ctx, const SyscallArgs& a) {
    FdRef in = ctx.fds.acquire(as_int(a[0]));
    FdRef out = ctx.fds.acquire(as_int(a[1]));
    if (!in || !out) return -EBADF;
    return raw(SYS_tee, in->fd(), out->fd(), static_cast<long>(a[2]), static_cast<long>(as_uint(a[3])));
}

}  // namespace

void register_xattr(HandlerTable& t) {
    t.add(SYS_getxattr, get_xattr<SYS_getxattr, Kind::Path>);
    t.add(SYS_lgetxattr, get_xattr<SYS_lgetxattr, Kind::Path>);
    t.add(SYS_fgetxattr, get_xattr<SYS_fgetxattr, Kind::Fd>);
    t.add(SYS_listxattr, list_xattr<SYS_listxattr, Kind::Path>);
    t.add(SYS_llistxattr, list_xattr<SYS_llistxattr, Kind::Path>);
    t.add(SYS_flistxattr, list_xattr<SYS_flistxattr, Kind::Fd>);
    t.add(SYS_setxattr, set_xattr<SYS_setxattr, Kind::Path>);
    t.add(SYS_lsetxattr, set_xattr<SYS_lsetxattr, Kind::Path>);
    t.add(SYS_fsetxattr, set_xattr<SYS_fsetxattr, Kind::Fd>);
    t.add(SYS_removexattr, remove_xattr<SYS_removexattr, Kind::Path>);
    t.add(SYS_lremovexattr, remove_xattr<SYS_lremovexattr, Kind::Path>);
    t.add(SYS_fremovexattr, remove_xattr<SYS_fremovexattr, Kind::Fd>);
    t.add(SYS_mknod, sys_mknod);
    t.add(SYS_mknodat, sys_mknodat);
    t.add(SYS_splice, sys_splice);
    t.add(SYS_tee, sys_tee);
}

}  // namespace spanvm::process::detail
