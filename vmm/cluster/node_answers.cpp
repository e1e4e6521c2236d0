#include "vmm/cluster/node_answers.hpp"

#include <sys/syscall.h>

#include <array>

namespace spanvm::cluster {

namespace {

// Linux ABI (include/uapi/linux/fcntl.h, asm/prctl.h, linux/stat.h).
constexpr std::int32_t kAtFdcwd = -100;
constexpr std::uint32_t kAtSymlinkNofollow = 0x100;
constexpr std::uint32_t kAtEaccess = 0x200;
constexpr std::uint32_t kAtNoAutomount = 0x800;
constexpr std::uint32_t kAtEmptyPath = 0x1000;
constexpr std::uint32_t kAtStatxSyncType = 0x6000;
constexpr std::uint32_t kStatxReserved = 0x80000000u;
constexpr std::uint64_t kArchSetFs = 0x1002;
constexpr std::uint64_t kStatSize = 144;   // struct stat (x86-64)
constexpr std::uint64_t kStatxSize = 256;  // struct statx
constexpr std::size_t kPathMax = 4096;     // PATH_MAX, with the NUL
constexpr std::uint64_t kRlimNlimits = 16;  // RLIM_NLIMITS
constexpr std::uint64_t kRlimitSize = 16;   // struct rlimit
constexpr std::uint64_t kSysinfoSize = 112;  // struct sysinfo (x86-64)
constexpr std::uint64_t kOCreat = 0100;
constexpr std::uint64_t kONofollow = 0400000;
constexpr std::uint64_t kOTmpfile = 020000000;  // __O_TMPFILE
constexpr std::uint64_t kCloneVm = 0x100;
constexpr std::uint64_t kCloneFiles = 0x400;
constexpr std::uint64_t kFDupfd = 0;
constexpr std::uint64_t kFDupfdCloexec = 1030;
constexpr std::uint64_t kFSetlk = 6;
constexpr std::uint64_t kFSetlkw = 7;
constexpr std::uint64_t kFOfdSetlk = 37;
constexpr std::uint64_t kFOfdSetlkw = 38;
constexpr std::uint64_t kFSetlease = 1024;
constexpr std::uint64_t kFNotify = 1026;
constexpr std::uint64_t kGrndFlags = 0x7;       // GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE

std::int32_t as_i32(std::uint64_t v) { return static_cast<std::int32_t>(static_cast<std::uint32_t>(v)); }

LocalCallPlan path_plan(LocalCall k, std::uint64_t path, std::uint64_t dirfd) {
    LocalCallPlan p;
    p.kind = path == 0 ? LocalCall::none : k;
    p.path = path;
    p.dirfd_cwd = as_i32(dirfd) == kAtFdcwd;
    p.fd = as_i32(dirfd);
    return p;
}

LocalCallPlan access_plan(std::uint64_t path, std::uint64_t dirfd, std::uint64_t mode, std::uint64_t flags) {
    // do_faccessat: mode & ~S_IRWXO and unknown flags are EINVAL.
    if ((mode & ~std::uint64_t{7}) != 0 || (flags & ~std::uint64_t{kAtEaccess | kAtSymlinkNofollow | kAtEmptyPath}) != 0)
        return {};
    LocalCallPlan p = path_plan(LocalCall::access, path, dirfd);
    p.mode = static_cast<std::uint32_t>(mode);
    p.eaccess = (flags & kAtEaccess) != 0;
    p.follow = (flags & kAtSymlinkNofollow) == 0;
    return p;
}

LocalCallPlan stat_plan(std::uint64_t path, std::uint64_t dirfd, std::uint64_t out, std::uint64_t flags) {
    // vfs_fstatat: only these flags.
    if ((flags & ~std::uint64_t{kAtSymlinkNofollow | kAtNoAutomount | kAtEmptyPath}) != 0) return {};
    LocalCallPlan p = path_plan(LocalCall::stat, path, dirfd);
    p.empty_path = (flags & kAtEmptyPath) != 0;
    p.follow = (flags & kAtSymlinkNofollow) == 0;
    p.out = out;
    p.out_len = kStatSize;
    p.at_flags = static_cast<std::uint32_t>(flags & kAtNoAutomount);
    return p;
}

LocalCallPlan readlink_plan(std::uint64_t path, std::uint64_t dirfd, std::uint64_t buf, std::uint64_t size) {
    if (as_i32(size) <= 0) return {};  // EINVAL, checked first by Linux
    LocalCallPlan p = path_plan(LocalCall::readlink, path, dirfd);
    p.follow = false;
    p.out = buf;
    p.out_len = static_cast<std::uint64_t>(as_i32(size));
    return p;
}

LocalCallPlan open_plan(std::uint64_t path, std::uint64_t dirfd, std::uint64_t flags) {
    // A creating open makes a file (or EEXIST, EISDIR...): the origin's.
    if ((flags & (kOCreat | kOTmpfile)) != 0) return {};
    LocalCallPlan p = path_plan(LocalCall::open, path, dirfd);
    p.follow = (flags & kONofollow) == 0;
    p.open_flags = static_cast<std::uint32_t>(flags);
    return p;
}

}  // namespace

std::optional<NodeAnswers> parse_node_answers(std::string_view s) {
    if (s == "all") return NodeAnswers::all;
    if (s == "thread") return NodeAnswers::thread;
    if (s == "off") return NodeAnswers::off;
    return std::nullopt;
}

LocalCallPlan plan_local_call(std::int64_t nr, const std::uint64_t a[6], NodeAnswers mode) {
    LocalCallPlan p;
    switch (nr) {
        case SYS_gettid: p.kind = LocalCall::gettid; return p;
        case SYS_sched_yield: p.kind = LocalCall::sched_yield; return p;
        default: break;
    }
    if (mode == NodeAnswers::off) return p;
    switch (nr) {
        case SYS_rseq: p.kind = LocalCall::rseq; return p;
        case SYS_set_tid_address: p.kind = LocalCall::set_tid_address; return p;
        case SYS_set_robust_list: p.kind = LocalCall::set_robust_list; return p;
        case SYS_arch_prctl:
            if (a[0] == kArchSetFs) p.kind = LocalCall::arch_set_fs;
            return p;
        case SYS_prlimit64:
        case SYS_getrlimit: {
            // Only reads of this process's limits into a buffer (the
            // origin answers a pid other than its own ESRCH, and sets).
            const bool pl = nr == SYS_prlimit64;
            const std::uint64_t res = pl ? a[1] : a[0], out = pl ? a[3] : a[1];
            if ((pl && (a[0] != 0 || a[2] != 0)) || out == 0 || res >= kRlimNlimits) return p;
            p.kind = LocalCall::rlimit;
            p.mode = static_cast<std::uint32_t>(res);
            p.out = out;
            p.out_len = kRlimitSize;
            return p;
        }
        case SYS_getrandom:
            // GRND_INSECURE with GRND_RANDOM is EINVAL: the origin's.
            if (a[0] == 0 || a[1] == 0 || a[1] > kMaxLocalRandom || (a[2] & ~kGrndFlags) != 0 || (a[2] & 0x6) == 0x6)
                return p;
            p.kind = LocalCall::getrandom;
            p.out = a[0];
            p.out_len = a[1];
            p.mode = static_cast<std::uint32_t>(a[2]);
            return p;
        default: break;
    }
    if (mode != NodeAnswers::all) return p;
    switch (nr) {
        case SYS_stat: return stat_plan(a[0], static_cast<std::uint64_t>(kAtFdcwd), a[1], 0);
        case SYS_lstat: return stat_plan(a[0], static_cast<std::uint64_t>(kAtFdcwd), a[1], kAtSymlinkNofollow);
        case SYS_newfstatat: return stat_plan(a[1], a[0], a[2], a[3]);
        case SYS_statx: {
            const std::uint64_t flags = a[2];
            if ((flags & ~std::uint64_t{kAtSymlinkNofollow | kAtNoAutomount | kAtEmptyPath | kAtStatxSyncType}) != 0 ||
                (flags & kAtStatxSyncType) == kAtStatxSyncType || (a[3] & kStatxReserved) != 0)
                return p;
            p = path_plan(LocalCall::statx, a[1], a[0]);
            p.follow = (flags & kAtSymlinkNofollow) == 0;
            p.empty_path = (flags & kAtEmptyPath) != 0;
            p.at_flags = static_cast<std::uint32_t>(flags & (kAtStatxSyncType | kAtNoAutomount));
            p.mask = static_cast<std::uint32_t>(a[3]);
            p.out = a[4];
            p.out_len = kStatxSize;
            return p;
        }
        case SYS_access: return access_plan(a[0], static_cast<std::uint64_t>(kAtFdcwd), a[1], 0);
        case SYS_faccessat: return access_plan(a[1], a[0], a[2], 0);
        case SYS_faccessat2: return access_plan(a[1], a[0], a[2], a[3]);
        case SYS_readlink: return readlink_plan(a[0], static_cast<std::uint64_t>(kAtFdcwd), a[1], a[2]);
        case SYS_readlinkat: return readlink_plan(a[1], a[0], a[2], a[3]);
        case SYS_open: return open_plan(a[0], static_cast<std::uint64_t>(kAtFdcwd), a[1]);
        case SYS_openat: return open_plan(a[1], a[0], a[2]);
        case SYS_fstat:
            if (a[1] == 0) return p;  // EFAULT (or EBADF first): the origin's
            p.kind = LocalCall::fstat;
            p.fd = as_i32(a[0]);
            p.out = a[1];
            p.out_len = kStatSize;
            return p;
        case SYS_close:
            p.kind = LocalCall::close;
            p.fd = as_i32(a[0]);
            return p;
        case SYS_read:
        case SYS_pread64:
            // No bytes, no buffer, too many, or pread64's negative offset
            // (EINVAL): the origin's.
            if (a[1] == 0 || a[2] == 0 || a[2] > kMaxLocalRead) return p;
            if (nr == SYS_pread64 && static_cast<std::int64_t>(a[3]) < 0) return p;
            p.kind = nr == SYS_read ? LocalCall::read : LocalCall::pread;
            p.fd = as_i32(a[0]);
            p.out = a[1];
            p.out_len = a[2];
            p.offset = nr == SYS_pread64 ? a[3] : 0;
            return p;
        case SYS_lseek:
            if (a[2] > 2) return p;  // SEEK_DATA, SEEK_HOLE and EINVAL: the origin's
            p.kind = LocalCall::lseek;
            p.fd = as_i32(a[0]);
            p.offset = a[1];
            p.mode = static_cast<std::uint32_t>(a[2]);
            return p;
        case SYS_sysinfo:
            if (a[0] == 0) return p;  // EFAULT: the origin's
            p.kind = LocalCall::sysinfo;
            p.out = a[0];
            p.out_len = kSysinfoSize;
            return p;
        default: return p;
    }
}

bool ends_path_answers(std::int64_t nr) {
    static constexpr std::array kCalls = {
        SYS_setuid,   SYS_setgid,   SYS_setreuid, SYS_setregid,     SYS_setresuid, SYS_setresgid, SYS_setfsuid,
        SYS_setfsgid, SYS_setgroups, SYS_capset,  SYS_prctl,        SYS_execve,    SYS_execveat,  SYS_chroot,
        SYS_unshare,  SYS_setns,    SYS_mount,    SYS_umount2,      SYS_pivot_root,
    };
    for (long c : kCalls)
        if (c == nr) return true;
    return false;
}

FdEffect fd_effect(std::int64_t nr, const std::uint64_t a[6]) {
    using K = FdEffect::Kind;
    auto fd = [](std::uint64_t v) { return static_cast<std::uint32_t>(v); };
    switch (nr) {
        case SYS_close: return {K::drop, fd(a[0]), fd(a[0])};
        case SYS_dup2:
        case SYS_dup3: return {K::drop, fd(a[1]), fd(a[1])};
        case SYS_close_range: return {K::range, fd(a[0]), fd(a[1])};
        case SYS_clone:
            // fork's clone (SIGCHLD only, CLONE_CHILD_*TID) copies the table
            // into a child at the origin; this one is unchanged.
            if ((a[0] & (kCloneVm | kCloneFiles)) == 0) return {};
            return {K::end};
        case SYS_clone3:  // glibc's pthread_create and posix_spawn; flags in memory
        case SYS_vfork:
        case SYS_execve:
        case SYS_execveat:
        case SYS_io_uring_setup:
        case SYS_io_uring_enter:
        case SYS_io_uring_register:
        case SYS_flock: return {K::end};
        case SYS_fcntl:
            switch (a[1]) {
                case kFSetlk:
                case kFSetlkw:
                case kFOfdSetlk:
                case kFOfdSetlkw:
                case kFSetlease:
                case kFNotify: return {K::end};
                default: return {};
            }
        default: return {};
    }
}

bool may_use_offset(std::int64_t nr, const std::uint64_t a[6], std::int32_t fd) {
    switch (nr) {
        case SYS_fork:
        case SYS_vfork:
        case SYS_clone:
        case SYS_clone3:
        case SYS_sendmsg:
        case SYS_sendmmsg: return true;
        // Calls that name an fd but neither read nor move its offset nor
        // share its description: mmap, ioctl (no ioctl moves a file's
        // position), the stat family, fstatfs, fadvise, fsync, and fcntl
        // but for F_DUPFD and F_DUPFD_CLOEXEC (a second fd on it).
        case SYS_mmap:
        case SYS_ioctl:
        case SYS_fstat:
        case SYS_newfstatat:
        case SYS_statx:
        case SYS_fstatfs:
        case SYS_fadvise64:
        case SYS_fsync:
        case SYS_fdatasync: return false;
        case SYS_fcntl: return as_i32(a[0]) == fd && (a[1] == kFDupfd || a[1] == kFDupfdCloexec);
        default: break;
    }
    for (int i = 0; i < 6; ++i)
        if (as_i32(a[i]) == fd) return true;  // the kernel reads an fd argument as an int
    return false;
}

bool path_answerable(std::string_view path, std::string_view cwd) {
    if (path.empty() || path.size() >= kPathMax) return false;
    const bool relative = path[0] != '/';
    if (relative && (cwd.empty() || cwd[0] != '/')) return false;
    // The walk's directory stack, as (offset, length) views; only its depth
    // and its first entry matter.
    std::size_t depth = 0;
    std::string_view top;
    auto walk = [&](std::string_view s) {
        std::size_t i = 0;
        while (i < s.size()) {
            while (i < s.size() && s[i] == '/') ++i;
            std::size_t j = i;
            while (j < s.size() && s[j] != '/') ++j;
            const std::string_view c = s.substr(i, j - i);
            i = j;
            if (c.empty() || c == ".") continue;
            if (c == "..") {
                if (depth > 0) --depth;
                continue;
            }
            if (depth == 0) top = c;
            ++depth;
            if (top == "proc" || top == "dev" || top == "sys") return false;
        }
        return true;
    };
    if (relative && !walk(cwd)) return false;
    return walk(path);
}

}  // namespace spanvm::cluster
