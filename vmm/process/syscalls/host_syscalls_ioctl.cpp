// ioctl(2): the requests a terminal, a pseudo-terminal, a pipe or socket, a
// block device and a file system answer that programs use, each with how
// its argument is passed (ioctl_tty(2), ioctl_fs(2)). Everything else is
// ENOTTY, as a driver that does not know the request answers (the caller's
// fallback runs: cp without FICLONE, say); none is passed on unchecked, as
// the argument's memory must be the guest's.
//
// Departures and special cases:
//  * FIOCLEX, FIONCLEX set the guest fd's close-on-exec flag, which is the
//    table's (the host fd is always close-on-exec).
//  * TIOCGPTPEER opens the peer of a pseudo-terminal master: the new host
//    fd becomes a guest fd (close-on-exec when the flags say O_CLOEXEC).
//  * Process groups and sessions (TIOCSPGRP, TIOCGPGRP, TIOCGSID,
//    TIOCSCTTY) are the host's: a guest process is a host process.
//  * Network interfaces are the host's (SIOCGIF*; if_nametoindex,
//    if_indextoname and getaddrinfo's "%lo" scope ids use them).
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <termios.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "vmm/process/syscalls/host_syscalls_detail.hpp"

namespace spanvm::process::detail {
namespace {

enum class Arg : uint8_t {
    none,   // no argument (or one the driver ignores)
    value,  // an integer passed by value
    in,     // `size` bytes the driver reads
    out,    // `size` bytes the driver writes
};

struct Row {
    unsigned long req;
    Arg arg;
    uint32_t size;
};

// Kernel ABI sizes (x86-64): the kernel's struct termios and termios2 (not
// glibc's), struct winsize, int.
constexpr uint32_t kTermios = 36, kTermios2 = 44, kWinsize = 8, kInt = 4, kU64 = 8;
constexpr uint32_t kIfreq = 40, kIfconf = 16, kTimeval = 16;  // struct ifreq, ifconf; timeval and timespec
static_assert(sizeof(winsize) == kWinsize && sizeof(ifreq) == kIfreq && sizeof(ifconf) == kIfconf);
// TCGETS2 and friends as asm-generic/ioctls.h builds them (_IOR('T', 0x2A,
// struct termios2) ...): glibc's <termios.h> has no struct termios2 for
// the header's macros to take the size of.
constexpr unsigned long kTcgets2 = 0x802c542a, kTcsets2 = 0x402c542b, kTcsetsw2 = 0x402c542c, kTcsetsf2 = 0x402c542d;

constexpr std::array kRows = {
    // Terminal attributes, size, line control (ioctl_tty(2)).
    Row{TCGETS, Arg::out, kTermios},   Row{TCSETS, Arg::in, kTermios},   Row{TCSETSW, Arg::in, kTermios},
    Row{TCSETSF, Arg::in, kTermios},   Row{kTcgets2, Arg::out, kTermios2}, Row{kTcsets2, Arg::in, kTermios2},
    Row{kTcsetsw2, Arg::in, kTermios2}, Row{kTcsetsf2, Arg::in, kTermios2}, Row{TIOCGWINSZ, Arg::out, kWinsize},
    Row{TIOCSWINSZ, Arg::in, kWinsize}, Row{TCSBRK, Arg::value, 0},     Row{TCSBRKP, Arg::value, 0},
    Row{TIOCSBRK, Arg::none, 0},       Row{TIOCCBRK, Arg::none, 0},      Row{TCXONC, Arg::value, 0},
    Row{TCFLSH, Arg::value, 0},        Row{TIOCOUTQ, Arg::out, kInt},     Row{TIOCEXCL, Arg::none, 0},
    Row{TIOCNXCL, Arg::none, 0},       Row{TIOCGEXCL, Arg::out, kInt},    Row{TIOCGETD, Arg::out, kInt},
    Row{TIOCSETD, Arg::in, kInt},      Row{TIOCMGET, Arg::out, kInt},     Row{TIOCMSET, Arg::in, kInt},
    Row{TIOCMBIS, Arg::in, kInt},      Row{TIOCMBIC, Arg::in, kInt},
    // Controlling terminal, process group, session.
    Row{TIOCSCTTY, Arg::value, 0},     Row{TIOCNOTTY, Arg::none, 0},      Row{TIOCGPGRP, Arg::out, kInt},
    Row{TIOCSPGRP, Arg::in, kInt},     Row{TIOCGSID, Arg::out, kInt},
    // Pseudo-terminal masters.
    Row{TIOCGPTN, Arg::out, kInt},     Row{TIOCSPTLCK, Arg::in, kInt},    Row{TIOCGPTLCK, Arg::out, kInt},
    Row{TIOCPKT, Arg::in, kInt},       Row{TIOCGPKT, Arg::out, kInt},
    // Any fd: bytes to read, non-blocking and async flags.
    Row{FIONREAD, Arg::out, kInt},     Row{FIONBIO, Arg::in, kInt},       Row{FIOASYNC, Arg::in, kInt},
    // Sockets: a network interface by name or index (netdevice(7): struct
    // ifreq, its name read and its answer written in place), out-of-band
    // mark, last packet's time. Setting an interface is left out.
    Row{SIOCGIFNAME, Arg::out, kIfreq},  Row{SIOCGIFINDEX, Arg::out, kIfreq},  Row{SIOCGIFFLAGS, Arg::out, kIfreq},
    Row{SIOCGIFPFLAGS, Arg::out, kIfreq}, Row{SIOCGIFADDR, Arg::out, kIfreq},  Row{SIOCGIFDSTADDR, Arg::out, kIfreq},
    Row{SIOCGIFBRDADDR, Arg::out, kIfreq}, Row{SIOCGIFNETMASK, Arg::out, kIfreq}, Row{SIOCGIFMETRIC, Arg::out, kIfreq},
    Row{SIOCGIFMTU, Arg::out, kIfreq},   Row{SIOCGIFHWADDR, Arg::out, kIfreq}, Row{SIOCGIFMAP, Arg::out, kIfreq},
    Row{SIOCGIFTXQLEN, Arg::out, kIfreq}, Row{SIOCATMARK, Arg::out, kInt},     Row{SIOCGSTAMP, Arg::out, kTimeval},
    Row{SIOCGSTAMPNS, Arg::out, kTimeval},
    // File systems and block devices (ioctl_fs(2); the flags are an int).
    Row{FS_IOC_GETFLAGS, Arg::out, kInt}, Row{FS_IOC_SETFLAGS, Arg::in, kInt},
    Row{BLKGETSIZE64, Arg::out, kU64}, Row{BLKSSZGET, Arg::out, kInt},
};

// SIOCGIFCONF: struct ifconf holds the length and a pointer to the guest's
// array of struct ifreq (NULL: only the length needed). The host call gets
// the array's memory; the guest's struct gets the length written back.
int64_t ifconf_call(HostSyscallContext& ctx, int host_fd, uint64_t gva) {
    uint8_t* g = ctx.mem.wptr(gva, kIfconf);
    if (g == nullptr) return -EFAULT;
    ifconf conf{};
    std::memcpy(&conf, g, sizeof conf);
    const uint64_t buf = reinterpret_cast<uint64_t>(conf.ifc_buf);
    if (buf != 0) {
        if (conf.ifc_len < 0) return -EINVAL;
        uint8_t* h = ctx.mem.wptr(buf, static_cast<uint64_t>(conf.ifc_len));
        if (h == nullptr && conf.ifc_len > 0) return -EFAULT;
        conf.ifc_buf = reinterpret_cast<char*>(h);
    }
    const int64_t r = raw(SYS_ioctl, host_fd, static_cast<long>(SIOCGIFCONF), P(&conf));
    if (r < 0) return r;
    std::memcpy(g, &conf.ifc_len, sizeof conf.ifc_len);  // the guest's pointer stays
    return r;
}

int64_t sys_ioctl(HostSyscallContext& ctx, const SyscallArgs& a) {
    const int gfd = as_int(a[0]);
    FdRef f = ctx.fds.acquire(gfd);
    if (!f) return -EBADF;
    const unsigned long req = static_cast<unsigned>(a[1]);  // the kernel takes an unsigned int
    if (req == FIOCLEX || req == FIONCLEX) return ctx.fds.set_cloexec(gfd, req == FIOCLEX);
    if (req == TIOCGPTPEER) {
        const int64_t flags = static_cast<int64_t>(a[2]);
        return install_new(ctx, raw(SYS_ioctl, f->fd(), static_cast<long>(req), static_cast<long>(flags | O_CLOEXEC)),
                           (flags & O_CLOEXEC) != 0);
    }
    if (req == SIOCGIFCONF) return ifconf_call(ctx, f->fd(), a[2]);
    const auto* row = std::find_if(kRows.begin(), kRows.end(), [&](const Row& r) { return r.req == req; });
    if (row == kRows.end()) return -ENOTTY;
    switch (row->arg) {
        case Arg::none: return raw(SYS_ioctl, f->fd(), static_cast<long>(req), 0);
        case Arg::value: return raw(SYS_ioctl, f->fd(), static_cast<long>(req), static_cast<long>(a[2]));
        case Arg::in: {
            const uint8_t* p = ctx.mem.ptr(a[2], row->size);
            if (p == nullptr) return -EFAULT;
            return raw(SYS_ioctl, f->fd(), static_cast<long>(req), P(p));
        }
        case Arg::out: {
            uint8_t* p = ctx.mem.wptr(a[2], row->size);
            if (p == nullptr) return -EFAULT;
            return raw(SYS_ioctl, f->fd(), static_cast<long>(req), P(p));
        }
    }
    return -ENOTTY;
}

}  // namespace

void register_ioctl(HandlerTable& t) { t.add(SYS_ioctl, sys_ioctl); }

}  // namespace spanvm::process::detail
