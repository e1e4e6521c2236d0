#include "vmm/cluster/arg_rules.hpp"

#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/utsname.h>
#include <utime.h>

#include <ctime>

namespace spanvm::cluster {

namespace {

using Store = memory::ArgRange::Store;

// Sizes of the kernel's structs these calls copy (x86-64 UAPI).
constexpr std::uint32_t kStatSize = 144;             // struct stat
constexpr std::uint32_t kStatxSize = 256;            // struct statx
constexpr std::uint32_t kStatfsSize = 120;           // struct statfs
constexpr std::uint32_t kNewUtsnameSize = 390;       // struct new_utsname: 6 x 65
constexpr std::uint32_t kSysinfoSize = 112;          // struct sysinfo
constexpr std::uint32_t kRusageSize = 144;           // struct rusage
constexpr std::uint32_t kTmsSize = 32;               // struct tms
constexpr std::uint32_t kTimespecSize = 16;          // struct __kernel_timespec
constexpr std::uint32_t kTimevalSize = 16;           // struct __kernel_old_timeval
constexpr std::uint32_t kTimezoneSize = 8;           // struct timezone
constexpr std::uint32_t kItimervalSize = 32;         // struct __kernel_old_itimerval
constexpr std::uint32_t kUtimbufSize = 16;           // struct utimbuf
constexpr std::uint32_t kRlimit64Size = 16;          // struct rlimit64 (and x86-64's struct rlimit)
constexpr std::uint32_t kKernelSigactionSize = 32;   // struct sigaction: handler, flags, restorer, mask
constexpr std::uint32_t kKernelSigsetSize = 8;       // sigset_t (_NSIG / 8)
constexpr std::uint32_t kStackSize = 24;             // stack_t
constexpr std::uint32_t kKernelTermiosSize = 36;     // struct termios of asm-generic/termbits.h (not glibc's)
constexpr std::uint32_t kWinsizeSize = 8;            // struct winsize
constexpr std::uint32_t kIntSize = 4;                // int
constexpr std::uint32_t kFdPairSize = 2 * kIntSize;  // int[2] of pipe2, socketpair
static_assert(sizeof(struct stat) == kStatSize && sizeof(struct statx) == kStatxSize &&
              sizeof(struct statfs) == kStatfsSize && sizeof(struct utsname) == kNewUtsnameSize &&
              sizeof(struct sysinfo) == kSysinfoSize && sizeof(struct rusage) == kRusageSize &&
              sizeof(struct tms) == kTmsSize && sizeof(struct timespec) == kTimespecSize &&
              sizeof(struct timeval) == kTimevalSize && sizeof(struct timezone) == kTimezoneSize &&
              sizeof(struct itimerval) == kItimervalSize && sizeof(struct utimbuf) == kUtimbufSize &&
              sizeof(struct rlimit) == kRlimit64Size && sizeof(stack_t) == kStackSize &&
              sizeof(struct winsize) == kWinsizeSize);

constexpr ArgRule path(std::uint8_t arg) { return {ArgUse::path, arg}; }
constexpr ArgRule in(std::uint8_t arg, std::uint32_t size) { return {ArgUse::in, arg, size}; }
constexpr ArgRule in_len(std::uint8_t arg, std::int8_t size_arg) { return {ArgUse::in, arg, 0, size_arg}; }
constexpr ArgRule out(std::uint8_t arg, std::uint32_t size, Store s = Store::on_success) {
    return {ArgUse::out, arg, size, -1, s};
}
// `result` bytes from the start of the buffer (read, readlink, getcwd, ...).
constexpr ArgRule out_len(std::uint8_t arg, std::int8_t size_arg) {
    return {ArgUse::out, arg, 0, size_arg, Store::result_bytes};
}
constexpr ArgRule iovecs(std::uint8_t arg, std::int8_t count_arg) { return {ArgUse::iovec_in, arg, 0, count_arg}; }

struct Row {
    long nr;
    CallRules rules;
    std::int8_t match_arg = -1;  // the row holds only when argument match_arg == match
    std::uint64_t match = 0;
};

// ioctl's request is an unsigned int (the kernel drops the upper half).
constexpr std::uint64_t ioctl_request(std::uint64_t a1) { return a1 & 0xffffffffu; }

constexpr Row kRows[] = {
    // Paths only: the call writes no guest memory (or, for getxattr and
    // listxattr, writes a value of a size it decides, left to the DSM).
    {SYS_open, {path(0)}}, {SYS_creat, {path(0)}}, {SYS_access, {path(0)}}, {SYS_mkdir, {path(0)}},
    {SYS_rmdir, {path(0)}}, {SYS_unlink, {path(0)}}, {SYS_chdir, {path(0)}}, {SYS_chmod, {path(0)}},
    {SYS_chown, {path(0)}}, {SYS_lchown, {path(0)}}, {SYS_truncate, {path(0)}}, {SYS_mknod, {path(0)}},
    {SYS_chroot, {path(0)}}, {SYS_listxattr, {path(0)}}, {SYS_llistxattr, {path(0)}}, {SYS_acct, {path(0)}},
    {SYS_swapoff, {path(0)}},
    {SYS_openat, {path(1)}}, {SYS_faccessat, {path(1)}}, {SYS_faccessat2, {path(1)}}, {SYS_mkdirat, {path(1)}},
    {SYS_unlinkat, {path(1)}}, {SYS_fchmodat, {path(1)}}, {SYS_fchownat, {path(1)}}, {SYS_mknodat, {path(1)}},
    {SYS_inotify_add_watch, {path(1)}},
    {SYS_symlink, {path(0), path(1)}}, {SYS_link, {path(0), path(1)}}, {SYS_rename, {path(0), path(1)}},
    {SYS_getxattr, {path(0), path(1)}}, {SYS_lgetxattr, {path(0), path(1)}}, {SYS_setxattr, {path(0), path(1)}},
    {SYS_lsetxattr, {path(0), path(1)}}, {SYS_removexattr, {path(0), path(1)}},
    {SYS_lremovexattr, {path(0), path(1)}},
    {SYS_symlinkat, {path(0), path(2)}},
    {SYS_linkat, {path(1), path(3)}}, {SYS_renameat, {path(1), path(3)}}, {SYS_renameat2, {path(1), path(3)}},
    // Paths and the times or open_how they read (NULL times: now).
    {SYS_utime, {path(0), in(1, kUtimbufSize)}},
    {SYS_utimes, {path(0), in(1, 2 * kTimevalSize)}},
    {SYS_futimesat, {path(1), in(2, 2 * kTimevalSize)}},
    {SYS_utimensat, {path(1), in(2, 2 * kTimespecSize)}},
    {SYS_openat2, {path(1), in_len(2, 3)}},
    // Paths and the struct or text they write.
    {SYS_stat, {path(0), out(1, kStatSize)}},
    {SYS_lstat, {path(0), out(1, kStatSize)}},
    {SYS_newfstatat, {path(1), out(2, kStatSize)}},  // a NULL path (AT_EMPTY_PATH) is not captured
    {SYS_statx, {path(1), out(4, kStatxSize)}},
    {SYS_statfs, {path(0), out(1, kStatfsSize)}},
    {SYS_readlink, {path(0), out_len(1, 2)}},
    {SYS_readlinkat, {path(1), out_len(2, 3)}},
    // Data read from a buffer, and buffers written `result` bytes long.
    {SYS_write, {in_len(1, 2)}},
    {SYS_pwrite64, {in_len(1, 2)}},
    {SYS_sendto, {in_len(1, 2), in_len(4, 5)}},
    {SYS_writev, {iovecs(1, 2)}},
    {SYS_pwritev, {iovecs(1, 2)}},
    {SYS_pwritev2, {iovecs(1, 2)}},
    {SYS_read, {out_len(1, 2)}},
    {SYS_pread64, {out_len(1, 2)}},
    {SYS_recvfrom, {out_len(1, 2)}, 4, 0},  // only without a source address (its length is in/out)
    {SYS_getdents, {out_len(1, 2)}},
    {SYS_getdents64, {out_len(1, 2)}},
    {SYS_getcwd, {out_len(0, 1)}},
    {SYS_getrandom, {out_len(0, 1)}},
    {SYS_sched_getaffinity, {out_len(2, 1)}},
    // Fixed-size structs written whole on success.
    {SYS_fstat, {out(1, kStatSize)}},
    {SYS_fstatfs, {out(1, kStatfsSize)}},
    {SYS_uname, {out(0, kNewUtsnameSize)}},
    {SYS_sysinfo, {out(0, kSysinfoSize)}},
    {SYS_getrusage, {out(1, kRusageSize)}},
    {SYS_times, {out(0, kTmsSize)}},  // its result is clock ticks, any value but an error
    {SYS_clock_gettime, {out(1, kTimespecSize)}},
    {SYS_clock_getres, {out(1, kTimespecSize)}},
    {SYS_gettimeofday, {out(0, kTimevalSize), out(1, kTimezoneSize)}},
    {SYS_getitimer, {out(1, kItimervalSize)}},
    {SYS_getresuid, {out(0, kIntSize), out(1, kIntSize), out(2, kIntSize)}},
    {SYS_getresgid, {out(0, kIntSize), out(1, kIntSize), out(2, kIntSize)}},
    {SYS_pipe, {out(0, kFdPairSize)}},
    {SYS_pipe2, {out(0, kFdPairSize)}},
    {SYS_socketpair, {out(3, kFdPairSize)}},
    {SYS_getrlimit, {out(1, kRlimit64Size)}},
    {SYS_ioctl, {out(2, kKernelTermiosSize)}, 1, TCGETS},
    {SYS_ioctl, {out(2, kWinsizeSize)}, 1, TIOCGWINSZ},
    {SYS_ioctl, {out(2, kIntSize)}, 1, FIONREAD},
    // wait4 writes its status and rusage only when it reaped a child.
    {SYS_wait4, {out(1, kIntSize, Store::on_positive), out(3, kRusageSize, Store::on_positive)}},
    // Inputs only, and an input with the old value written on success.
    {SYS_ioctl, {in(2, kIntSize)}, 1, FIONBIO},
    {SYS_setrlimit, {in(1, kRlimit64Size)}},
    {SYS_sched_setscheduler, {in(2, kIntSize)}},  // struct sched_param
    {SYS_sched_setparam, {in(1, kIntSize)}},
    {SYS_sched_getparam, {out(1, kIntSize)}},
    {SYS_sched_rr_get_interval, {out(1, kTimespecSize)}},
    {SYS_prlimit64, {in(2, kRlimit64Size), out(3, kRlimit64Size)}},
    {SYS_rt_sigaction, {in(1, kKernelSigactionSize), out(2, kKernelSigactionSize)}},
    {SYS_rt_sigprocmask, {in(1, kKernelSigsetSize), out(2, kKernelSigsetSize)}},
    {SYS_sigaltstack, {in(0, kStackSize), out(1, kStackSize)}},
    {SYS_setitimer, {in(1, kItimervalSize), out(2, kItimervalSize)}},
};

}  // namespace

CallRules arg_rules(std::int64_t nr, const std::uint64_t (&a)[6]) {
    for (const Row& r : kRows) {
        if (r.nr != nr) continue;
        if (r.match_arg >= 0) {
            const std::uint64_t v = a[static_cast<unsigned>(r.match_arg)];
            if ((nr == SYS_ioctl ? ioctl_request(v) : v) != r.match) continue;
        }
        return r.rules;
    }
    return {};
}

}  // namespace spanvm::cluster
