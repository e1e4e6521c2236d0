// Host syscalls that touch no fd: time, randomness, credentials, resource
// and system information. See host_syscalls.hpp for the rules.
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <sys/times.h>

#include <cstring>
#include <ctime>

#include "vmm/process/syscalls/host_syscalls_detail.hpp"

namespace spanvm::process::detail {
namespace {

constexpr uint64_t kSysinfoSize = 112;
constexpr uint64_t kRusageSize = 144;
constexpr uint64_t kTmsSize = 32;
static_assert(sizeof(struct sysinfo) == kSysinfoSize && sizeof(rusage) == kRusageSize && sizeof(tms) == kTmsSize);

// Host pointer for an optional guest out-pointer: 0 stays null.
bool optional_out(HostSyscallContext& ctx, uint64_t gva, uint64_t size, uint8_t*& out) {
    out = nullptr;
    if (gva == 0) return true;
    out = ctx.mem.ptr(gva, size);
    return out != nullptr;
}

// Negative clock ids (Linux's include/linux/posix-timers.h) encode a pid, a
// tid or an fd in the bits above the low three, inverted: a process's CPU
// clock (the guest's pid is the host's), a thread's (pthread_getcpuclockid:
// a guest tid, made the host's; 0 is the calling thread, which makes the
// host call), or CLOCKFD (type 3: a guest fd, made the host's). The host
// clock id for the guest's, or -EINVAL.
constexpr int kClockTypeFd = 3, kClockPerThread = 4;
int64_t host_clock(HostSyscallContext& ctx, uint64_t clk) {
    const int c = as_int(clk);
    if (c >= 0) return c;
    const int id = ~(c >> 3);
    int host = id;
    if ((c & 7) == kClockTypeFd) {
        host = ctx.fds.translate(id);
    } else if ((c & kClockPerThread) && id != 0) {
        host = ctx.host_tid_of ? ctx.host_tid_of(id) : -1;
    }
    if (host < 0) return -EINVAL;
    return static_cast<int>((~static_cast<unsigned>(host) << 3) | static_cast<unsigned>(c & 7));
}

int64_t sys_clock_gettime(HostSyscallContext& ctx, const SyscallArgs& a) {
    const int64_t clk = host_clock(ctx, a[0]);
    if (clk == -EINVAL) return clk;
    uint8_t* tp = ctx.mem.ptr(a[1], sizeof(timespec));
    if (tp == nullptr) return -EFAULT;
    return raw(SYS_clock_gettime, clk, P(tp));
}

int64_t sys_clock_getres(HostSyscallContext& ctx, const SyscallArgs& a) {
    const int64_t clk = host_clock(ctx, a[0]);
    if (clk == -EINVAL) return clk;
    uint8_t* res;
    if (!optional_out(ctx, a[1], sizeof(timespec), res)) return -EFAULT;
    return raw(SYS_clock_getres, clk, P(res));
}

int64_t sys_gettimeofday(HostSyscallContext& ctx, const SyscallArgs& a) {
    uint8_t* tv;
    uint8_t* tz;
    if (!optional_out(ctx, a[0], sizeof(timeval), tv)) return -EFAULT;
    if (!optional_out(ctx, a[1], sizeof(struct timezone), tz)) return -EFAULT;
    return raw(SYS_gettimeofday, P(tv), P(tz));
}

int64_t sys_time(HostSyscallContext& ctx, const SyscallArgs& a) {
    uint8_t* tloc;
    if (!optional_out(ctx, a[0], sizeof(int64_t), tloc)) return -EFAULT;
    return raw(SYS_time, P(tloc));
}

int64_t sys_nanosleep(HostSyscallContext& ctx, const SyscallArgs& a) {
    auto req = ctx.mem.read<timespec>(a[0]);
    if (!req) return -EFAULT;
    uint8_t* rem;
    if (!optional_out(ctx, a[1], sizeof(timespec), rem)) return -EFAULT;
    const timespec r = *req;
    return raw(SYS_nanosleep, P(&r), P(rem));
}

int64_t sys_clock_nanosleep(HostSyscallContext& ctx, const SyscallArgs& a) {
    const int64_t clk = host_clock(ctx, a[0]);
    if (clk == -EINVAL) return clk;
    auto req = ctx.mem.read<timespec>(a[2]);
    if (!req) return -EFAULT;
    uint8_t* rem;
    if (!optional_out(ctx, a[3], sizeof(timespec), rem)) return -EFAULT;
    const timespec r = *req;
    return raw(SYS_clock_nanosleep, clk, as_int(a[1]), P(&r), P(rem));
}

int64_t sys_getrandom(HostSyscallContext& ctx, const SyscallArgs& a) {
    uint8_t* buf = ctx.mem.ptr(a[0], a[1]);
    if (buf == nullptr) return -EFAULT;
    return raw(SYS_getrandom, P(buf), static_cast<long>(a[1]), as_uint(a[2]));
}

// No-argument calls and calls taking only integers.
template <long NR>
int64_t int_call(HostSyscallContext&, const SyscallArgs& a) {
    return raw(NR, static_cast<long>(a[0]), static_cast<long>(a[1]), static_cast<long>(a[2]));
}

int64_t sys_getgroups(HostSyscallContext& ctx, const SyscallArgs& a) {
    const int size = as_int(a[0]);
    if (size < 0) return -EINVAL;
    uint8_t* list = ctx.mem.ptr(a[1], static_cast<uint64_t>(size) * sizeof(gid_t));
    if (list == nullptr) return -EFAULT;
    return raw(SYS_getgroups, size, size == 0 ? 0 : P(list));
}

// setgroups(2) sets the calling host thread's list, as the credential calls
// below do. More than NGROUPS_MAX entries is EINVAL before any is read.
constexpr int kNgroupsMax = 65536;  // NGROUPS_MAX
int64_t sys_setgroups(HostSyscallContext& ctx, const SyscallArgs& a) {
    const int size = as_int(a[0]);
    if (size < 0 || size > kNgroupsMax) return -EINVAL;
    const uint8_t* list = size == 0 ? nullptr : ctx.mem.ptr(a[1], static_cast<uint64_t>(size) * sizeof(gid_t));
    if (size != 0 && list == nullptr) return -EFAULT;
    return raw(SYS_setgroups, size, P(list));
}

// getresuid/getresgid(r*, e*, s*).
template <long NR>
int64_t three_id_out(HostSyscallContext& ctx, const SyscallArgs& a) {
    uint8_t* p[3];
    for (int i = 0; i < 3; ++i) {
        p[i] = ctx.mem.ptr(a[static_cast<size_t>(i)], sizeof(uint32_t));
        if (p[i] == nullptr) return -EFAULT;
    }
    return raw(NR, P(p[0]), P(p[1]), P(p[2]));
}

int64_t sys_sysinfo(HostSyscallContext& ctx, const SyscallArgs& a) {
    uint8_t* out = ctx.mem.ptr(a[0], kSysinfoSize);
    if (out == nullptr) return -EFAULT;
    return raw(SYS_sysinfo, P(out));
}

int64_t sys_getrusage(HostSyscallContext& ctx, const SyscallArgs& a) {
    uint8_t* out = ctx.mem.ptr(a[1], kRusageSize);
    if (out == nullptr) return -EFAULT;
    return raw(SYS_getrusage, as_int(a[0]), P(out));
}

int64_t sys_times(HostSyscallContext& ctx, const SyscallArgs& a) {
    uint8_t* out;
    if (!optional_out(ctx, a[0], kTmsSize, out)) return -EFAULT;
    return raw(SYS_times, P(out));
}

// capget/capset (the Linux ABI, <linux/capability.h>): a header {version,
// pid} and, after it, one 12-byte data struct for version 1 or two for
// versions 2 and 3. The host call with the guest's memory: the guest's pid
// is the host's, and the kernel checks the version (writing its own into
// the header for an unknown one) and the pid as it would for the guest.
// capset changes the calling host thread's capabilities, as the credential
// calls above do.
constexpr uint32_t kCapVersion1 = 0x19980330;  // _LINUX_CAPABILITY_VERSION_1
constexpr uint32_t kCapVersion2 = 0x20071026;  // _LINUX_CAPABILITY_VERSION_2
constexpr uint32_t kCapVersion3 = 0x20080522;  // _LINUX_CAPABILITY_VERSION_3
constexpr uint64_t kCapHeaderSize = 8, kCapDataSize = 12;

template <long NR>
int64_t cap_call(HostSyscallContext& ctx, const SyscallArgs& a) {
    uint8_t* hdr = ctx.mem.ptr(a[0], kCapHeaderSize);
    if (hdr == nullptr) return -EFAULT;
    uint32_t version;
    std::memcpy(&version, hdr, sizeof version);
    const uint64_t n = version == kCapVersion1 ? 1 : (version == kCapVersion2 || version == kCapVersion3) ? 2 : 0;
    // An unknown version: the kernel answers from the header alone, but
    // tells a null data pointer from another (capget: 0 instead of EINVAL).
    uint8_t unused[2 * kCapDataSize];
    uint8_t* data = nullptr;
    if (a[1] != 0) {
        data = n ? ctx.mem.ptr(a[1], n * kCapDataSize) : unused;
        if (data == nullptr) return -EFAULT;
    }
    return raw(NR, P(hdr), P(data));
}

// Setting the clocks (departure: the guest cannot change the host's time,
// as a process without CAP_SYS_TIME cannot): clock_settime of
// CLOCK_REALTIME and settimeofday with a valid time, or a timezone, are
// EPERM after Linux's own checks; a clock that cannot be set is EINVAL.
// adjtimex and clock_adjtime(CLOCK_REALTIME) with modes 0 only read the
// kernel's clock state, which the host call does; other modes EPERM.
constexpr long kNsecPerSec = 1000000000;
int64_t sys_clock_settime(HostSyscallContext& ctx, const SyscallArgs& a) {
    if (as_int(a[0]) != CLOCK_REALTIME) return -EINVAL;
    auto ts = ctx.mem.read<timespec>(a[1]);
    if (!ts) return -EFAULT;
    if (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= kNsecPerSec) return -EINVAL;
    return -EPERM;
}

int64_t sys_settimeofday(HostSyscallContext& ctx, const SyscallArgs& a) {
    if (a[0]) {
        auto tv = ctx.mem.read<timeval>(a[0]);
        if (!tv) return -EFAULT;
        if (tv->tv_sec < 0 || tv->tv_usec < 0 || tv->tv_usec >= 1000000) return -EINVAL;
    }
    if (a[1] && !ctx.mem.valid(a[1], sizeof(struct timezone))) return -EFAULT;
    return -EPERM;  // Linux checks CAP_SYS_TIME even with neither
}

constexpr uint64_t kTimexSize = 208;  // struct __kernel_timex
static_assert(sizeof(struct timex) == kTimexSize);
int64_t adjtime_call(HostSyscallContext& ctx, uint64_t gva, long nr, long clk) {
    uint8_t* tx = ctx.mem.ptr(gva, kTimexSize);
    if (tx == nullptr) return -EFAULT;
    unsigned modes;
    std::memcpy(&modes, tx, sizeof modes);
    if (modes != 0) return -EPERM;
    return nr == SYS_adjtimex ? raw(nr, P(tx)) : raw(nr, clk, P(tx));
}
int64_t sys_adjtimex(HostSyscallContext& ctx, const SyscallArgs& a) { return adjtime_call(ctx, a[0], SYS_adjtimex, 0); }
int64_t sys_clock_adjtime(HostSyscallContext& ctx, const SyscallArgs& a) {
    if (as_int(a[0]) != CLOCK_REALTIME) return -EINVAL;
    return adjtime_call(ctx, a[1], SYS_clock_adjtime, CLOCK_REALTIME);
}

// The host's names and root (departure, as the clocks above: a guest
// process cannot change what every host process sees): sethostname and
// setdomainname are EPERM after Linux's checks of the name (longer than
// __NEW_UTS_LEN: EINVAL); chroot is EPERM for a directory that exists, and
// the lookup's own error otherwise (ENOENT, ENOTDIR, EACCES...), as Linux
// looks the path up before it checks the capability.
constexpr uint64_t kUtsNameLen = 64;  // __NEW_UTS_LEN
int64_t sys_set_uts_name(HostSyscallContext& ctx, const SyscallArgs& a) {
    if (as_int(a[1]) < 0 || static_cast<uint64_t>(as_int(a[1])) > kUtsNameLen) return -EINVAL;
    if (!ctx.mem.valid(a[0], static_cast<uint64_t>(as_int(a[1])))) return -EFAULT;
    return -EPERM;
}

int64_t sys_chroot(HostSyscallContext& ctx, const SyscallArgs& a) {
    GuestPath p;
    if (int64_t r = guest_path(ctx, a[0], p); r < 0) return r;
    struct stat st {};
    if (int64_t r = raw(SYS_newfstatat, AT_FDCWD, P(p.c_str()), P(&st), 0); r < 0) return r;
    if (!S_ISDIR(st.st_mode)) return -ENOTDIR;
    return -EPERM;
}

}  // namespace

void register_misc(HandlerTable& t) {
    t.add(SYS_sethostname, sys_set_uts_name);
    t.add(SYS_setdomainname, sys_set_uts_name);
    t.add(SYS_chroot, sys_chroot);
    t.add(SYS_clock_settime, sys_clock_settime);
    t.add(SYS_settimeofday, sys_settimeofday);
    t.add(SYS_adjtimex, sys_adjtimex);
    t.add(SYS_clock_adjtime, sys_clock_adjtime);
    t.add(SYS_clock_gettime, sys_clock_gettime);
    t.add(SYS_clock_getres, sys_clock_getres);
    t.add(SYS_gettimeofday, sys_gettimeofday);
    t.add(SYS_time, sys_time);
    t.add(SYS_nanosleep, sys_nanosleep);
    t.add(SYS_clock_nanosleep, sys_clock_nanosleep);
    t.add(SYS_getrandom, sys_getrandom);
    t.add(SYS_umask, int_call<SYS_umask>);
    t.add(SYS_getuid, int_call<SYS_getuid>);
    t.add(SYS_geteuid, int_call<SYS_geteuid>);
    t.add(SYS_getgid, int_call<SYS_getgid>);
    t.add(SYS_getegid, int_call<SYS_getegid>);
    t.add(SYS_getresuid, three_id_out<SYS_getresuid>);
    t.add(SYS_getresgid, three_id_out<SYS_getresgid>);
    // Credentials: the host call, for the calling host thread only
    // (departure: Linux's syscall is per thread too, but glibc's wrapper then
    // changes every thread; a guest's other threads keep theirs here).
    t.add(SYS_setuid, int_call<SYS_setuid>);
    t.add(SYS_setgid, int_call<SYS_setgid>);
    t.add(SYS_setreuid, int_call<SYS_setreuid>);
    t.add(SYS_setregid, int_call<SYS_setregid>);
    t.add(SYS_setresuid, int_call<SYS_setresuid>);
    t.add(SYS_setresgid, int_call<SYS_setresgid>);
    t.add(SYS_setfsuid, int_call<SYS_setfsuid>);
    t.add(SYS_setfsgid, int_call<SYS_setfsgid>);
    t.add(SYS_getgroups, sys_getgroups);
    t.add(SYS_setgroups, sys_setgroups);
    // membarrier: the host's, over the host threads of this process, which
    // run its guest threads on one host (spread over hosts, the DSM's
    // sequential consistency orders the other nodes' accesses already).
    t.add(SYS_membarrier, int_call<SYS_membarrier>);
    t.add(SYS_capget, cap_call<SYS_capget>);
    t.add(SYS_capset, cap_call<SYS_capset>);
    t.add(SYS_sysinfo, sys_sysinfo);
    t.add(SYS_getrusage, sys_getrusage);
    t.add(SYS_times, sys_times);
    t.add(SYS_sync, int_call<SYS_sync>);
}

}  // namespace spanvm::process::detail
