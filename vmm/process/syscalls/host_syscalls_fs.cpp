// Path-based host syscalls: open, stat, directories, links, permissions,
// times. See host_syscalls.hpp for the rules and departures.
#include <linux/openat2.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/time.h>
#include <utime.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "vmm/base/self_pid.hpp"
#include "vmm/process/syscalls/host_syscalls_detail.hpp"
#include "vmm/process/syscalls/proc_fd_dir.hpp"
#include "vmm/process/syscalls/proc_maps.hpp"
#include "vmm/process/syscalls/proc_stat.hpp"
#include "vmm/process/syscalls/proc_status.hpp"

namespace spanvm::process::detail {
namespace {

// Kernel ABI sizes of the structs these calls write (x86-64).
constexpr uint64_t kStatSize = 144;
constexpr uint64_t kStatxSize = 256;
constexpr uint64_t kStatfsSize = 120;
static_assert(sizeof(struct stat) == kStatSize && sizeof(struct statfs) == kStatfsSize);
static_assert(sizeof(struct statx) == kStatxSize);

// A sealed memfd holding `text`, at offset 0.
int64_t text_fd(const char* name, const std::string& text) {
    int fd = static_cast<int>(raw(SYS_memfd_create, P(name), MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (fd < 0) return fd;
    int64_t r = raw(SYS_write, fd, P(text.data()), static_cast<long>(text.size()));
    if (r >= 0 && static_cast<size_t>(r) != text.size()) r = -EIO;
    if (r >= 0) r = raw(SYS_lseek, fd, 0, SEEK_SET);
    if (r >= 0) r = raw(SYS_fcntl, fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE);
    if (r < 0) {
        ::close(fd);
        return r;
    }
    return fd;
}

int64_t cpu_list_fd(unsigned cpus) { return text_fd("spanvm-cpu-list", cpu_range_text(cpus)); }

// The guest's own /proc status or stat (proc_status.hpp, proc_stat.hpp):
// the host's file, read whole, rewritten; its maps (proc_maps.hpp), written
// from its address space. -1 when `p` is neither (the open
// goes on as usual).
int64_t own_proc_view_fd(HostSyscallContext& ctx, const GuestPath& p, uint64_t flags) {
    bool thread_self = false;
    if (!ctx.proc_view || (flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC))) return -1;
    OwnProcFile file = OwnProcFile::status;
    if (ctx.own_maps && is_own_maps_path(p.s, self_pid()) && ctx.own_maps())
        return text_fd("spanvm-maps", ctx.proc_view({}, OwnProcFile::maps, false));
    if (is_own_stat_path(p.s, self_pid(), thread_self)) file = OwnProcFile::stat;
    else if (!is_own_status_path(p.s, self_pid(), thread_self)) return -1;
    const int h = static_cast<int>(raw(SYS_openat, AT_FDCWD, P(p.c_str()), O_RDONLY | O_CLOEXEC));
    if (h < 0) return -1;
    std::string text;
    char buf[4096];
    for (;;) {
        const int64_t n = raw(SYS_read, h, P(buf), sizeof buf);
        if (n <= 0) break;
        text.append(buf, static_cast<size_t>(n));
    }
    ::close(h);
    return text_fd(file == OwnProcFile::stat ? "spanvm-stat" : "spanvm-status", ctx.proc_view(text, file, thread_self));
}

bool is_cpu_list_path(const GuestPath& p, uint64_t flags) {
    return (flags & O_ACCMODE) == O_RDONLY && (flags & (O_CREAT | O_TRUNC)) == 0 &&
           (p.s == "/sys/devices/system/cpu/online" || p.s == "/sys/devices/system/cpu/possible");
}

// A directory the guest opened: its own /proc/PID/fd(info) or not
// (proc_fd_dir.hpp). Asked of every open of a path with "fd" in it, with
// O_DIRECTORY (opendir's) or not (CPython's subprocess child opens
// /proc/self/fd with O_RDONLY alone, and closes the fds it lists), so other
// opens cost nothing more.
ProcFdDir opened_dir_kind(int64_t host_fd, const GuestPath& p) {
    if (host_fd < 0 || p.s.find("fd") == std::string::npos) return ProcFdDir::none;
    char link[128];
    const std::string at = "/proc/self/fd/" + std::to_string(host_fd);
    const ssize_t n = ::readlink(at.c_str(), link, sizeof link);
    if (n <= 0 || static_cast<size_t>(n) >= sizeof link) return ProcFdDir::none;
    return classify_proc_fd_dir(std::string_view(link, static_cast<size_t>(n)), self_pid());
}

int64_t do_openat(HostSyscallContext& ctx, uint64_t dirfd, uint64_t path_gva, uint64_t flags, uint64_t mode) {
    GuestPath p;
    if (int64_t r = guest_path(ctx, path_gva, p); r < 0) return r;
    const bool cloexec = (flags & O_CLOEXEC) != 0;
    if (is_cpu_list_path(p, flags)) return install_new(ctx, cpu_list_fd(ctx.guest_cpus), cloexec);
    if (p.absolute())
        if (const int64_t s = own_proc_view_fd(ctx, p, flags); s >= 0) return install_new(ctx, s, cloexec);
    if (!(flags & O_NOFOLLOW)) follow_own_exe(ctx, p);
    AtDir d;
    if (int64_t r = at_dir(ctx, dirfd, p, d); r < 0) return r;
    const int64_t h = raw(SYS_openat, d.fd, P(p.c_str()), static_cast<long>(flags | O_CLOEXEC), static_cast<long>(mode));
    if (h < 0) return h;
    return ctx.fds.install(static_cast<int>(h), cloexec, {opened_dir_kind(h, p), nullptr});
}

int64_t sys_open(HostSyscallContext& ctx, const SyscallArgs& a) {
    return do_openat(ctx, static_cast<uint64_t>(AT_FDCWD), a[0], a[1], a[2]);
}
int64_t sys_creat(HostSyscallContext& ctx, const SyscallArgs& a) {
    return do_openat(ctx, static_cast<uint64_t>(AT_FDCWD), a[0], O_CREAT | O_WRONLY | O_TRUNC, a[1]);
}
int64_t sys_openat(HostSyscallContext& ctx, const SyscallArgs& a) { return do_openat(ctx, a[0], a[1], a[2], a[3]); }

int64_t sys_openat2(HostSyscallContext& ctx, const SyscallArgs& a) {
    const uint64_t size = a[3];
    if (size < 24) return -EINVAL;  // OPEN_HOW_SIZE_VER0 (not in the UAPI header)
    if (size > 4096) return -E2BIG;
    const uint8_t* src = ctx.mem.ptr(a[2], size);
    if (src == nullptr) return -EFAULT;
    open_how how{};
    std::memcpy(&how, src, std::min<uint64_t>(size, sizeof(how)));
    // Unknown trailing fields must be zero (copy_struct_from_user).
    if (size > sizeof(how) && std::any_of(src + sizeof(how), src + size, [](uint8_t b) { return b != 0; })) {
        return -E2BIG;
    }
    GuestPath p;
    if (int64_t r = guest_path(ctx, a[1], p); r < 0) return r;
    const bool cloexec = (how.flags & O_CLOEXEC) != 0;
    if (is_cpu_list_path(p, how.flags) && how.resolve == 0) {
        return install_new(ctx, cpu_list_fd(ctx.guest_cpus), cloexec);
    }
    AtDir d;
    if (int64_t r = at_dir(ctx, a[0], p, d); r < 0) return r;
    how.flags |= O_CLOEXEC;
    const int64_t h = raw(SYS_openat2, d.fd, P(p.c_str()), P(&how), sizeof(how));
    if (h < 0) return h;
    return ctx.fds.install(static_cast<int>(h), cloexec, {opened_dir_kind(h, p), nullptr});
}

// nr(path, a1, a2): the rest of the arguments are plain integers.
template <long NR>
int64_t path_call(HostSyscallContext& ctx, const SyscallArgs& a) {
    GuestPath p;
    if (int64_t r = guest_path(ctx, a[0], p); r < 0) return r;
    return raw(NR, P(p.c_str()), static_cast<long>(a[1]), static_cast<long>(a[2]));
}

// nr(dirfd, path, a2, a3, a4): integers after the path.
template <long NR>
int64_t at_path_call(HostSyscallContext& ctx, const SyscallArgs& a) {
    GuestPath p;
    if (int64_t r = guest_path(ctx, a[1], p); r < 0) return r;
    AtDir d;
    if (int64_t r = at_dir(ctx, a[0], p, d); r < 0) return r;
    return raw(NR, d.fd, P(p.c_str()), static_cast<long>(a[2]), static_cast<long>(a[3]), static_cast<long>(a[4]));
}

// nr(path, out_struct[SIZE]).
template <long NR, uint64_t SIZE>
int64_t path_out_call(HostSyscallContext& ctx, const SyscallArgs& a) {
    GuestPath p;
    if (int64_t r = guest_path(ctx, a[0], p); r < 0) return r;
    uint8_t* out = ctx.mem.ptr(a[1], SIZE);
    if (out == nullptr) return -EFAULT;
    return raw(NR, P(p.c_str()), P(out));
}

// nr(fd, out_struct[SIZE]).
template <long NR, uint64_t SIZE>
int64_t fd_out_call(HostSyscallContext& ctx, const SyscallArgs& a) {
    FdRef f = ctx.fds.acquire(as_int(a[0]));
    if (!f) return -EBADF;
    uint8_t* out = ctx.mem.ptr(a[1], SIZE);
    if (out == nullptr) return -EFAULT;
    return raw(NR, f->fd(), P(out));
}

// nr(old, new) and nr(olddir, old, newdir, new, flags).
template <long NR>
int64_t two_path_call(HostSyscallContext& ctx, const SyscallArgs& a) {
    GuestPath o, n;
    if (int64_t r = guest_path(ctx, a[0], o); r < 0) return r;
    if (int64_t r = guest_path(ctx, a[1], n); r < 0) return r;
    return raw(NR, P(o.c_str()), P(n.c_str()));
}
template <long NR>
int64_t at_two_path_call(HostSyscallContext& ctx, const SyscallArgs& a) {
    GuestPath o, n;
    if (int64_t r = guest_path(ctx, a[1], o); r < 0) return r;
    if (int64_t r = guest_path(ctx, a[3], n); r < 0) return r;
    AtDir od, nd;
    if (int64_t r = at_dir(ctx, a[0], o, od); r < 0) return r;
    if (int64_t r = at_dir(ctx, a[2], n, nd); r < 0) return r;
    return raw(NR, od.fd, P(o.c_str()), nd.fd, P(n.c_str()), static_cast<long>(a[4]));
}

// newfstatat / statx accept a NULL path with AT_EMPTY_PATH (Linux >= 6.11).
int64_t sys_newfstatat(HostSyscallContext& ctx, const SyscallArgs& a) {
    const long flags = static_cast<long>(a[3]);
    uint8_t* out = ctx.mem.ptr(a[2], kStatSize);
    GuestPath p;
    AtDir d;
    if (a[1] == 0 && (flags & AT_EMPTY_PATH) != 0) {
        if (int64_t r = at_dir_fd(ctx, a[0], d); r < 0) return r;
        if (out == nullptr) return -EFAULT;
        return raw(SYS_newfstatat, d.fd, P(""), P(out), flags);
    }
    if (int64_t r = guest_path(ctx, a[1], p); r < 0) return r;
    if (!(flags & AT_SYMLINK_NOFOLLOW)) follow_own_exe(ctx, p);
    if (int64_t r = at_dir(ctx, a[0], p, d); r < 0) return r;
    if (out == nullptr) return -EFAULT;
    return raw(SYS_newfstatat, d.fd, P(p.c_str()), P(out), flags);
}

int64_t sys_statx(HostSyscallContext& ctx, const SyscallArgs& a) {
    const long flags = static_cast<long>(a[2]);
    uint8_t* out = ctx.mem.ptr(a[4], kStatxSize);
    GuestPath p;
    AtDir d;
    if (a[1] == 0 && (flags & AT_EMPTY_PATH) != 0) {
        if (int64_t r = at_dir_fd(ctx, a[0], d); r < 0) return r;
    } else {
        if (int64_t r = guest_path(ctx, a[1], p); r < 0) return r;
        if (!(flags & AT_SYMLINK_NOFOLLOW)) follow_own_exe(ctx, p);
        if (int64_t r = at_dir(ctx, a[0], p, d); r < 0) return r;
    }
    if (out == nullptr) return -EFAULT;
    return raw(SYS_statx, d.fd, P(p.c_str()), flags, static_cast<long>(a[3]), P(out));
}


int64_t do_readlinkat(HostSyscallContext& ctx, uint64_t dirfd, uint64_t path_gva, uint64_t buf, uint64_t size) {
    const int bufsiz = as_int(size);
    if (bufsiz <= 0) return -EINVAL;  // checked first, as in Linux
    GuestPath p;
    if (int64_t r = guest_path(ctx, path_gva, p); r < 0) return r;
    uint8_t* out = ctx.mem.wptr(buf, static_cast<uint64_t>(bufsiz));
    if (out == nullptr) return -EFAULT;
    if (is_own_exe(p) && !ctx.guest_exe.empty()) {
        const size_t n = std::min<size_t>(ctx.guest_exe.size(), static_cast<size_t>(bufsiz));
        std::memcpy(out, ctx.guest_exe.data(), n);
        return static_cast<int64_t>(n);
    }
    AtDir d;
    if (int64_t r = at_dir(ctx, dirfd, p, d); r < 0) return r;
    return raw(SYS_readlinkat, d.fd, P(p.c_str()), P(out), bufsiz);
}
int64_t sys_readlink(HostSyscallContext& ctx, const SyscallArgs& a) {
    return do_readlinkat(ctx, static_cast<uint64_t>(AT_FDCWD), a[0], a[1], a[2]);
}
int64_t sys_readlinkat(HostSyscallContext& ctx, const SyscallArgs& a) {
    return do_readlinkat(ctx, a[0], a[1], a[2], a[3]);
}

int64_t sys_getcwd(HostSyscallContext& ctx, const SyscallArgs& a) {
    uint8_t* out = ctx.mem.ptr(a[0], a[1]);
    if (out == nullptr) return -EFAULT;
    return raw(SYS_getcwd, P(out), static_cast<long>(a[1]));
}

// symlink's target is stored verbatim (not resolved, not rewritten).
int64_t do_symlinkat(HostSyscallContext& ctx, uint64_t target_gva, uint64_t dirfd, uint64_t link_gva) {
    auto t = ctx.mem.cstring(target_gva, kPathMax);
    if (!t) return -t.error().code;
    const std::string target(*t);
    GuestPath l;
    if (int64_t r = guest_path(ctx, link_gva, l); r < 0) return r;
    AtDir d;
    if (int64_t r = at_dir(ctx, dirfd, l, d); r < 0) return r;
    return raw(SYS_symlinkat, P(target.c_str()), d.fd, P(l.c_str()));
}
int64_t sys_symlink(HostSyscallContext& ctx, const SyscallArgs& a) {
    return do_symlinkat(ctx, a[0], static_cast<uint64_t>(AT_FDCWD), a[1]);
}
int64_t sys_symlinkat(HostSyscallContext& ctx, const SyscallArgs& a) { return do_symlinkat(ctx, a[0], a[1], a[2]); }

// Optional input array of TIMES structs of SIZE bytes each (NULL = now).
int64_t optional_in(HostSyscallContext& ctx, uint64_t gva, uint64_t size, const uint8_t*& out) {
    out = nullptr;
    if (gva == 0) return 0;
    out = ctx.mem.ptr(gva, size);
    return out == nullptr ? -EFAULT : 0;
}

// utimensat(dirfd, path|NULL, times[2]|NULL, flags); NULL path = the dirfd.
int64_t sys_utimensat(HostSyscallContext& ctx, const SyscallArgs& a) {
    const uint8_t* times;
    if (int64_t r = optional_in(ctx, a[2], 2 * sizeof(timespec), times); r < 0) return r;
    timespec copy[2];
    if (times != nullptr) std::memcpy(copy, times, sizeof(copy));
    GuestPath p;
    AtDir d;
    if (a[1] == 0) {
        if (int64_t r = at_dir_fd(ctx, a[0], d); r < 0) return r;
        return raw(SYS_utimensat, d.fd, 0, times ? P(copy) : 0, static_cast<long>(a[3]));
    }
    if (int64_t r = guest_path(ctx, a[1], p); r < 0) return r;
    if (int64_t r = at_dir(ctx, a[0], p, d); r < 0) return r;
    return raw(SYS_utimensat, d.fd, P(p.c_str()), times ? P(copy) : 0, static_cast<long>(a[3]));
}

// futimesat(dirfd, path|NULL, timeval[2]|NULL).
int64_t sys_futimesat(HostSyscallContext& ctx, const SyscallArgs& a) {
    const uint8_t* times;
    if (int64_t r = optional_in(ctx, a[2], 2 * sizeof(timeval), times); r < 0) return r;
    timeval copy[2];
    if (times != nullptr) std::memcpy(copy, times, sizeof(copy));
    GuestPath p;
    AtDir d;
    if (a[1] == 0) {
        if (int64_t r = at_dir_fd(ctx, a[0], d); r < 0) return r;
        return raw(SYS_futimesat, d.fd, 0, times ? P(copy) : 0);
    }
    if (int64_t r = guest_path(ctx, a[1], p); r < 0) return r;
    if (int64_t r = at_dir(ctx, a[0], p, d); r < 0) return r;
    return raw(SYS_futimesat, d.fd, P(p.c_str()), times ? P(copy) : 0);
}

// utimes(path, timeval[2]|NULL) and utime(path, utimbuf|NULL).
template <long NR, uint64_t SIZE>
int64_t path_times_call(HostSyscallContext& ctx, const SyscallArgs& a) {
    const uint8_t* times;
    if (int64_t r = optional_in(ctx, a[1], SIZE, times); r < 0) return r;
    uint8_t copy[SIZE];
    if (times != nullptr) std::memcpy(copy, times, SIZE);
    GuestPath p;
    if (int64_t r = guest_path(ctx, a[0], p); r < 0) return r;
    return raw(NR, P(p.c_str()), times ? P(copy) : 0);
}

}  // namespace

// The process's own executable link (/proc/self/exe, /proc/thread-self/exe,
// /proc/PID/exe of its own pid) is the host's, spanvm's binary: readlink
// names the guest program instead, and an open or a stat that follows the
// link reaches the guest program's file (ctx.guest_exe), as on Linux.
bool is_own_exe(const GuestPath& p) {
    bool thread_self = false;
    return p.absolute() && is_own_proc_file(p.s, "exe", static_cast<int>(self_pid()), thread_self);
}
void follow_own_exe(HostSyscallContext& ctx, GuestPath& p) {
    if (!ctx.guest_exe.empty() && is_own_exe(p)) p.s = ctx.guest_exe;
}

void register_fs(HandlerTable& t) {
    t.add(SYS_open, sys_open);
    t.add(SYS_creat, sys_creat);
    t.add(SYS_openat, sys_openat);
    t.add(SYS_openat2, sys_openat2);
    t.add(SYS_stat, path_out_call<SYS_stat, kStatSize>);
    t.add(SYS_lstat, path_out_call<SYS_lstat, kStatSize>);
    t.add(SYS_fstat, fd_out_call<SYS_fstat, kStatSize>);
    t.add(SYS_newfstatat, sys_newfstatat);
    t.add(SYS_statx, sys_statx);
    t.add(SYS_statfs, path_out_call<SYS_statfs, kStatfsSize>);
    t.add(SYS_fstatfs, fd_out_call<SYS_fstatfs, kStatfsSize>);
    t.add(SYS_access, path_call<SYS_access>);
    t.add(SYS_faccessat, at_path_call<SYS_faccessat>);
    t.add(SYS_faccessat2, at_path_call<SYS_faccessat2>);
    t.add(SYS_readlink, sys_readlink);
    t.add(SYS_readlinkat, sys_readlinkat);
    t.add(SYS_getcwd, sys_getcwd);
    t.add(SYS_chdir, path_call<SYS_chdir>);
    t.add(SYS_mkdir, path_call<SYS_mkdir>);
    t.add(SYS_mkdirat, at_path_call<SYS_mkdirat>);
    t.add(SYS_rmdir, path_call<SYS_rmdir>);
    t.add(SYS_unlink, path_call<SYS_unlink>);
    t.add(SYS_unlinkat, at_path_call<SYS_unlinkat>);
    t.add(SYS_rename, two_path_call<SYS_rename>);
    t.add(SYS_renameat, at_two_path_call<SYS_renameat>);
    t.add(SYS_renameat2, at_two_path_call<SYS_renameat2>);
    t.add(SYS_link, two_path_call<SYS_link>);
    t.add(SYS_linkat, at_two_path_call<SYS_linkat>);
    t.add(SYS_symlink, sys_symlink);
    t.add(SYS_symlinkat, sys_symlinkat);
    t.add(SYS_chmod, path_call<SYS_chmod>);
    t.add(SYS_fchmodat, at_path_call<SYS_fchmodat>);
    t.add(SYS_chown, path_call<SYS_chown>);
    t.add(SYS_lchown, path_call<SYS_lchown>);
    t.add(SYS_fchownat, at_path_call<SYS_fchownat>);
    t.add(SYS_truncate, path_call<SYS_truncate>);
    t.add(SYS_utimensat, sys_utimensat);
    t.add(SYS_futimesat, sys_futimesat);
    t.add(SYS_utimes, path_times_call<SYS_utimes, 2 * sizeof(timeval)>);
    t.add(SYS_utime, path_times_call<SYS_utime, sizeof(utimbuf)>);
}

}  // namespace spanvm::process::detail
