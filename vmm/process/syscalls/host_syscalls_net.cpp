// Socket host syscalls: socket(pair), bind/connect/listen/accept(4),
// get{sock,peer}name, send/recv{from,msg,mmsg}, shutdown, {set,get}sockopt;
// and select / pselect6 (fd_set translation).
// See host_syscalls.hpp for the common rules.
//
// Translation rules:
//  - socket addresses (bind, connect, sendto, msg_name of sendmsg) are copied
//    out of the guest once into a sockaddr_storage (length < 0 or > 128 is
//    -EINVAL, as move_addr_to_kernel); out-addresses (accept, recvfrom,
//    getsockname, getpeername, msg_name of recvmsg) are received into a host
//    sockaddr_storage and copied back truncated to the guest's length, with
//    the full length written to the guest's length word (move_addr_to_user);
//  - struct msghdr / mmsghdr (x86-64 layout, same as the host's) are read
//    once; iovecs go through GuestAccess::iovecs; the control buffer is
//    copied into VMM memory. SCM_RIGHTS fds sent by the guest are translated
//    guest->host (pinned for the call; -EBADF if unmapped); fds received are
//    installed in the FdTable (host side always MSG_CMSG_CLOEXEC; guest
//    cloexec from MSG_CMSG_CLOEXEC) and rewritten host->guest before the
//    control buffer is copied back;
//  - SOCK_CLOEXEC goes to the table (host fds are always SOCK_CLOEXEC);
//    SOCK_NONBLOCK passes through to the host.
//
// Departures (deliberate):
//  - control buffers larger than kMaxControl (1 MiB) are -ENOBUFS on send
//    and receive at most kMaxControl bytes (the kernel's optmem_max limit is
//    far smaller, so no real program notices);
//  - if the FdTable is full while installing received SCM_RIGHTS fds, the
//    control data is cut at that message (the fds that did not fit and any
//    later SCM_RIGHTS fds are closed) and MSG_CTRUNC is set, like the
//    kernel's scm_detach_fds;
//  - socket options whose value holds a user pointer are translated
//    (SO_ATTACH_FILTER, SO_ATTACH_REUSEPORT_CBPF: the filter array is copied;
//    SO_ATTACH_BPF, SO_ATTACH_REUSEPORT_EBPF: the fd is translated) or
//    rejected with -EOPNOTSUPP: netfilter table replacement (SOL_IP 64..131
//    set, SOL_IPV6 64/65 set, ebtables 128..131 get), PACKET_FANOUT_DATA,
//    TCP_ZEROCOPY_RECEIVE, all of SOL_XDP, and SO_PEERPIDFD (a host pidfd);
//  - SCM_CREDENTIALS and SO_PEERCRED carry host pids/uids unchanged.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <linux/filter.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstring>
#include <ctime>
#include <vector>

#include "vmm/process/syscalls/host_syscalls_detail.hpp"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif
#ifndef SOL_XDP
#define SOL_XDP 283
#endif
#ifndef PACKET_FANOUT_DATA
#define PACKET_FANOUT_DATA 22
#endif
#ifndef SOL_PACKET
#define SOL_PACKET 263
#endif
#ifndef TCP_ZEROCOPY_RECEIVE
#define TCP_ZEROCOPY_RECEIVE 35
#endif

namespace spanvm::process::detail {
namespace {

constexpr uint64_t kMsghdrSize = 56;   // struct msghdr (x86-64)
constexpr uint64_t kMmsghdrSize = 64;  // struct mmsghdr: msghdr, msg_len, pad
constexpr uint64_t kMaxControl = 1 << 20;
constexpr int kMaxSockaddr = static_cast<int>(sizeof(sockaddr_storage));  // 128
static_assert(sizeof(msghdr) == kMsghdrSize && sizeof(mmsghdr) == kMmsghdrSize);
static_assert(offsetof(mmsghdr, msg_len) == kMsghdrSize && sizeof(cmsghdr) == 16);
static_assert(sizeof(sock_fprog) == 16 && sizeof(sock_filter) == 8);

// A socket address copied in from the guest. host() is nullptr iff the
// guest passed NULL (a non-NULL address of length 0 stays non-NULL).
struct InAddr {
    sockaddr_storage ss{};
    socklen_t len = 0;
    bool present = false;
    const sockaddr* host() const { return present ? reinterpret_cast<const sockaddr*>(&ss) : nullptr; }
};

int64_t addr_in(HostSyscallContext& ctx, uint64_t gva, int len, InAddr& out) {
    if (len < 0 || len > kMaxSockaddr) return -EINVAL;
    out.present = gva != 0;
    out.len = static_cast<socklen_t>(len);
    if (len == 0) return 0;
    const uint8_t* p = ctx.mem.ptr(gva, static_cast<uint64_t>(len));
    if (p == nullptr) return -EFAULT;
    std::memcpy(&out.ss, p, static_cast<size_t>(len));
    return 0;
}

// An out-address: the host fills ss/len; finish() copies min(guest length,
// len) bytes back and stores len in the guest's length word.
struct OutAddr {
    sockaddr_storage ss{};
    socklen_t len = sizeof(sockaddr_storage);
    uint64_t addr_gva = 0;
    uint64_t len_gva = 0;
    int guest_len = 0;
    bool wanted = false;
    sockaddr* host_addr() { return wanted ? reinterpret_cast<sockaddr*>(&ss) : nullptr; }
    socklen_t* host_len() { return wanted ? &len : nullptr; }
};

// Reads the guest's length word (-EFAULT / -EINVAL if negative).
int64_t addr_out_begin(HostSyscallContext& ctx, uint64_t addr_gva, uint64_t len_gva, bool wanted, OutAddr& o) {
    o.wanted = wanted;
    if (!wanted) return 0;
    o.addr_gva = addr_gva;
    o.len_gva = len_gva;
    auto l = ctx.mem.read<int>(len_gva);
    if (!l) return -EFAULT;
    if (*l < 0) return -EINVAL;
    o.guest_len = *l;
    return 0;
}

int64_t addr_out_finish(HostSyscallContext& ctx, const OutAddr& o) {
    if (!o.wanted) return 0;
    const size_t n = std::min<size_t>(static_cast<size_t>(o.guest_len), std::min<size_t>(o.len, sizeof(o.ss)));
    if (n > 0) {
        uint8_t* p = ctx.mem.wptr(o.addr_gva, n);
        if (p == nullptr) return -EFAULT;
        std::memcpy(p, &o.ss, n);
    }
    return ctx.mem.write(o.len_gva, static_cast<int>(o.len)) ? 0 : -EFAULT;
}

// Host fd for the guest socket in a[0], pinned.
template <long NR>
int64_t fd_int_call(HostSyscallContext& ctx, const SyscallArgs& a) {
    FdRef f = ctx.fds.acquire(as_int(a[0]));
    if (!f) return -EBADF;
    return raw(NR, f->fd(), static_cast<long>(a[1]));
}

int64_t sys_socket(HostSyscallContext& ctx, const SyscallArgs& a) {
    const int type = as_int(a[1]);
    return install_new(ctx, raw(SYS_socket, as_int(a[0]), type | SOCK_CLOEXEC, as_int(a[2])),
                       (type & SOCK_CLOEXEC) != 0);
}

int64_t sys_socketpair(HostSyscallContext& ctx, const SyscallArgs& a) {
    if (!ctx.mem.valid(a[3], 2 * sizeof(int))) return -EFAULT;
    const int type = as_int(a[1]);
    int host[2];
    int64_t r = raw(SYS_socketpair, as_int(a[0]), type | SOCK_CLOEXEC, as_int(a[2]), P(host));
    if (r < 0) return r;
    return install_fd_pair(ctx, host, (type & SOCK_CLOEXEC) != 0, a[3]);
}

// bind / connect (fd, addr, addrlen).
template <long NR>
int64_t addr_call(HostSyscallContext& ctx, const SyscallArgs& a) {
    FdRef f = ctx.fds.acquire(as_int(a[0]));
    if (!f) return -EBADF;
    InAddr in;
    if (int64_t r = addr_in(ctx, a[1], as_int(a[2]), in); r < 0) return r;
    return raw(NR, f->fd(), P(in.host()), static_cast<long>(in.len));
}

// The guest's address length is read before the host accept (the kernel
// reads it after): a bad length pointer then fails without consuming a
// connection.
int64_t do_accept(HostSyscallContext& ctx, const SyscallArgs& a, uint64_t flags) {
    if ((flags & ~uint64_t{SOCK_CLOEXEC | SOCK_NONBLOCK}) != 0) return -EINVAL;
    FdRef f = ctx.fds.acquire(as_int(a[0]));
    if (!f) return -EBADF;
    OutAddr o;
    if (int64_t r = addr_out_begin(ctx, a[1], a[2], a[1] != 0, o); r < 0) return r;
    int64_t h = raw(SYS_accept4, f->fd(), P(o.host_addr()), P(o.host_len()), static_cast<long>(flags | SOCK_CLOEXEC));
    if (h < 0) return h;
    if (int64_t r = addr_out_finish(ctx, o); r < 0) {
        ::close(static_cast<int>(h));
        return r;
    }
    return install_new(ctx, h, (flags & SOCK_CLOEXEC) != 0);
}
int64_t sys_accept(HostSyscallContext& ctx, const SyscallArgs& a) { return do_accept(ctx, a, 0); }
int64_t sys_accept4(HostSyscallContext& ctx, const SyscallArgs& a) {
    return do_accept(ctx, a, static_cast<uint32_t>(a[3]));
}

// getsockname / getpeername (fd, addr, addrlen*).
template <long NR>
int64_t name_call(HostSyscallContext& ctx, const SyscallArgs& a) {
    FdRef f = ctx.fds.acquire(as_int(a[0]));
    if (!f) return -EBADF;
    OutAddr o;
    if (int64_t r = addr_out_begin(ctx, a[1], a[2], true, o); r < 0) return r;
    int64_t r = raw(NR, f->fd(), P(o.host_addr()), P(o.host_len()));
    if (r < 0) return r;
    return addr_out_finish(ctx, o);
}

// sendto(fd, buf, len, flags, addr, addrlen).
int64_t sys_sendto(HostSyscallContext& ctx, const SyscallArgs& a) {
    FdRef f = ctx.fds.acquire(as_int(a[0]));
    if (!f) return -EBADF;
    const uint8_t* buf = ctx.mem.ptr(a[1], a[2]);
    if (buf == nullptr) return -EFAULT;
    InAddr in;
    if (a[4] != 0) {
        if (int64_t r = addr_in(ctx, a[4], as_int(a[5]), in); r < 0) return r;
    }
    return raw(SYS_sendto, f->fd(), P(buf), static_cast<long>(a[2]), static_cast<long>(as_uint(a[3])), P(in.host()),
               static_cast<long>(in.len));
}

// recvfrom(fd, buf, len, flags, addr, addrlen*).
int64_t sys_recvfrom(HostSyscallContext& ctx, const SyscallArgs& a) {
    FdRef f = ctx.fds.acquire(as_int(a[0]));
    if (!f) return -EBADF;
    uint8_t* buf = ctx.mem.ptr(a[1], a[2]);
    if (buf == nullptr) return -EFAULT;
    OutAddr o;
    if (int64_t r = addr_out_begin(ctx, a[4], a[5], a[4] != 0, o); r < 0) return r;
    int64_t n = raw(SYS_recvfrom, f->fd(), P(buf), static_cast<long>(a[2]), static_cast<long>(as_uint(a[3])),
                    P(o.host_addr()), P(o.host_len()));
    if (n < 0) return n;
    if (int64_t r = addr_out_finish(ctx, o); r < 0) return r;
    return n;
}

// Walks the cmsgs of a control buffer in VMM memory: fn(hdr, data, n_data,
// offset) per message. Returns -EINVAL for a malformed length, as
// __scm_send does (a trailing fragment shorter than a header is ignored).
template <typename Fn>
int64_t for_each_cmsg(std::vector<uint8_t>& buf, size_t len, Fn&& fn) {
    size_t off = 0;
    while (len - off >= sizeof(cmsghdr)) {
        cmsghdr h;
        std::memcpy(&h, buf.data() + off, sizeof(h));
        if (h.cmsg_len < sizeof(cmsghdr) || h.cmsg_len > len - off) return -EINVAL;
        if (int64_t r = fn(h, buf.data() + off + sizeof(cmsghdr), h.cmsg_len - sizeof(cmsghdr), off); r != 0) return r;
        off += CMSG_ALIGN(h.cmsg_len);
        if (off >= len) break;
    }
    return 0;
}

// The guest's msghdr turned into a host one. Pins keep SCM_RIGHTS fds
// alive during the call.
struct HostMsg {
    msghdr guest{};  // the guest's copy (guest pointers)
    msghdr host{};
    sockaddr_storage name{};
    std::vector<iovec> iov;
    std::vector<uint8_t> control;
    std::vector<FdRef> pins;
};

int64_t msg_begin(HostSyscallContext& ctx, uint64_t msg_gva, bool send, HostMsg& m) {
    auto g = ctx.mem.read<msghdr>(msg_gva);
    if (!g) return -EFAULT;
    m.guest = *g;
    int namelen = static_cast<int>(m.guest.msg_namelen);
    if (namelen < 0) return -EINVAL;
    namelen = std::min(namelen, kMaxSockaddr);  // copy_msghdr_from_user clamps
    if (m.guest.msg_name != nullptr) {
        m.host.msg_name = &m.name;
        m.host.msg_namelen = static_cast<socklen_t>(namelen);
        if (send && namelen > 0) {
            const uint8_t* p = ctx.mem.ptr(reinterpret_cast<uint64_t>(m.guest.msg_name), static_cast<uint64_t>(namelen));
            if (p == nullptr) return -EFAULT;
            std::memcpy(&m.name, p, static_cast<size_t>(namelen));
        } else if (!send) {
            m.host.msg_namelen = sizeof(m.name);
        }
    }
    auto iov = ctx.mem.iovecs(reinterpret_cast<uint64_t>(m.guest.msg_iov), m.guest.msg_iovlen);
    if (!iov) return -iov.error().code;
    m.iov = std::move(*iov);
    m.host.msg_iov = m.iov.data();
    m.host.msg_iovlen = m.iov.size();
    const uint64_t clen = m.guest.msg_controllen;
    if (clen == 0) return 0;
    if (send && clen > kMaxControl) return -ENOBUFS;
    const uint64_t hlen = std::min(clen, kMaxControl);
    if (!send && m.guest.msg_control == nullptr) {
        // put_cmsg() treats a NULL buffer as "no room" (MSG_CTRUNC), not a fault.
        m.host.msg_controllen = hlen;
        return 0;
    }
    const uint8_t* c = ctx.mem.ptr(reinterpret_cast<uint64_t>(m.guest.msg_control), hlen);
    if (c == nullptr) return -EFAULT;
    m.control.assign(hlen, 0);
    m.host.msg_control = m.control.data();
    m.host.msg_controllen = hlen;
    if (!send) return 0;
    std::memcpy(m.control.data(), c, hlen);
    return for_each_cmsg(m.control, hlen, [&](const cmsghdr& h, uint8_t* data, size_t n, size_t) -> int64_t {
        if (h.cmsg_level != SOL_SOCKET || h.cmsg_type != SCM_RIGHTS) return 0;
        for (size_t i = 0; i + sizeof(int) <= n; i += sizeof(int)) {
            int gfd;
            std::memcpy(&gfd, data + i, sizeof(int));
            FdRef pin = ctx.fds.acquire(gfd);
            if (!pin) return -EBADF;
            const int hfd = pin->fd();
            std::memcpy(data + i, &hfd, sizeof(int));
            m.pins.push_back(std::move(pin));
        }
        return 0;
    });
}

// After a successful host recvmsg: installs received fds, copies name and
// control back and updates the guest's msg_namelen/controllen/flags.
int64_t msg_finish_recv(HostSyscallContext& ctx, uint64_t msg_gva, uint64_t flags, HostMsg& m) {
    size_t clen = m.host.msg_controllen;
    const bool cloexec = (flags & MSG_CMSG_CLOEXEC) != 0;
    bool table_full = false;
    size_t cut = clen;  // control bytes kept for the guest
    (void)for_each_cmsg(m.control, clen, [&](const cmsghdr& h, uint8_t* data, size_t n, size_t off) -> int64_t {
        if (h.cmsg_level != SOL_SOCKET || h.cmsg_type != SCM_RIGHTS) return 0;
        size_t installed = 0;
        for (size_t i = 0; i + sizeof(int) <= n; i += sizeof(int)) {
            int hfd;
            std::memcpy(&hfd, data + i, sizeof(int));
            if (table_full) {
                ::close(hfd);
                continue;
            }
            const int gfd = ctx.fds.install(hfd, cloexec);  // closes hfd on failure
            if (gfd < 0) {
                table_full = true;
                continue;
            }
            std::memcpy(data + i, &gfd, sizeof(int));
            ++installed;
        }
        if (table_full && cut == clen) {
            const size_t len = CMSG_LEN(installed * sizeof(int));
            std::memcpy(data - sizeof(cmsghdr) + offsetof(cmsghdr, cmsg_len), &len, sizeof(len));
            cut = std::min(clen, off + CMSG_SPACE(installed * sizeof(int)));
        }
        return 0;
    });
    if (table_full) {
        clen = cut;
        m.host.msg_flags |= MSG_CTRUNC;
    }
    if (clen > 0) {
        uint8_t* c = ctx.mem.wptr(reinterpret_cast<uint64_t>(m.guest.msg_control), clen);
        if (c == nullptr) return -EFAULT;  // validated in msg_begin; kept for safety
        std::memcpy(c, m.control.data(), clen);
    }
    if (m.guest.msg_name != nullptr) {
        const size_t n = std::min<size_t>(std::min<size_t>(m.guest.msg_namelen, kMaxSockaddr), m.host.msg_namelen);
        if (n > 0) {
            uint8_t* p = ctx.mem.wptr(reinterpret_cast<uint64_t>(m.guest.msg_name), n);
            if (p == nullptr) return -EFAULT;
            std::memcpy(p, &m.name, n);
        }
        if (!ctx.mem.write(msg_gva + offsetof(msghdr, msg_namelen), m.host.msg_namelen)) return -EFAULT;
    }
    // The kernel echoes MSG_CMSG_CLOEXEC in msg_flags; the host call always
    // sets it, so report it only when the guest asked for it.
    m.host.msg_flags = (m.host.msg_flags & ~MSG_CMSG_CLOEXEC) | static_cast<int>(flags & MSG_CMSG_CLOEXEC);
    const uint64_t cl = clen;
    if (!ctx.mem.write(msg_gva + offsetof(msghdr, msg_controllen), cl)) return -EFAULT;
    if (!ctx.mem.write(msg_gva + offsetof(msghdr, msg_flags), m.host.msg_flags)) return -EFAULT;
    return 0;
}

int64_t do_sendmsg(HostSyscallContext& ctx, int host_fd, uint64_t msg_gva, uint64_t flags) {
    HostMsg m;
    if (int64_t r = msg_begin(ctx, msg_gva, true, m); r < 0) return r;
    return raw(SYS_sendmsg, host_fd, P(&m.host), static_cast<long>(flags));
}

int64_t do_recvmsg(HostSyscallContext& ctx, int host_fd, uint64_t msg_gva, uint64_t flags) {
    HostMsg m;
    if (int64_t r = msg_begin(ctx, msg_gva, false, m); r < 0) return r;
    int64_t n = raw(SYS_recvmsg, host_fd, P(&m.host), static_cast<long>(flags | MSG_CMSG_CLOEXEC));
    if (n < 0) return n;
    if (int64_t r = msg_finish_recv(ctx, msg_gva, flags, m); r < 0) return r;
    return n;
}

int64_t sys_sendmsg(HostSyscallContext& ctx, const SyscallArgs& a) {
    FdRef f = ctx.fds.acquire(as_int(a[0]));
    if (!f) return -EBADF;
    return do_sendmsg(ctx, f->fd(), a[1], as_uint(a[2]));
}

int64_t sys_recvmsg(HostSyscallContext& ctx, const SyscallArgs& a) {
    FdRef f = ctx.fds.acquire(as_int(a[0]));
    if (!f) return -EBADF;
    return do_recvmsg(ctx, f->fd(), a[1], as_uint(a[2]));
}

constexpr uint64_t kUioMaxIov = 1024;  // UIO_MAXIOV: the kernel's vlen clamp

// sendmmsg(fd, msgvec, vlen, flags): one host sendmsg per message, as the
// kernel's own loop does; an error after the first message returns the count.
int64_t sys_sendmmsg(HostSyscallContext& ctx, const SyscallArgs& a) {
    FdRef f = ctx.fds.acquire(as_int(a[0]));
    if (!f) return -EBADF;
    const uint64_t vlen = std::min<uint64_t>(as_uint(a[2]), kUioMaxIov);
    uint64_t i = 0;
    for (; i < vlen; ++i) {
        const uint64_t at = a[1] + i * kMmsghdrSize;
        int64_t r = do_sendmsg(ctx, f->fd(), at, as_uint(a[3]));
        if (r < 0) return i > 0 ? static_cast<int64_t>(i) : r;
        if (!ctx.mem.write(at + kMsghdrSize, static_cast<uint32_t>(r))) return i > 0 ? static_cast<int64_t>(i) : -EFAULT;
    }
    return static_cast<int64_t>(i);
}

int64_t now_ns() {
    timespec t{};
    ::clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

// recvmmsg(fd, msgvec, vlen, flags, timeout|NULL). Like the kernel, the
// timeout is only checked between datagrams; MSG_WAITFORONE makes every
// receive after the first non-blocking.
int64_t sys_recvmmsg(HostSyscallContext& ctx, const SyscallArgs& a) {
    FdRef f = ctx.fds.acquire(as_int(a[0]));
    if (!f) return -EBADF;
    uint64_t flags = as_uint(a[3]);
    int64_t deadline = 0;
    if (a[4] != 0) {
        auto t = ctx.mem.read<timespec>(a[4]);
        if (!t) return -EFAULT;
        if (t->tv_sec < 0 || t->tv_nsec < 0 || t->tv_nsec >= 1000000000L) return -EINVAL;
        deadline = now_ns() + std::min<int64_t>(t->tv_sec, INT32_MAX) * 1000000000L + t->tv_nsec;
    }
    const uint64_t vlen = std::min<uint64_t>(as_uint(a[2]), kUioMaxIov);
    uint64_t done = 0;
    int64_t err = 0;
    while (done < vlen) {
        const uint64_t at = a[1] + done * kMmsghdrSize;
        int64_t r = do_recvmsg(ctx, f->fd(), at, flags);
        if (r < 0) {
            err = r;
            break;
        }
        if (!ctx.mem.write(at + kMsghdrSize, static_cast<uint32_t>(r))) {
            err = -EFAULT;
            break;
        }
        ++done;
        if ((flags & MSG_WAITFORONE) != 0) flags |= MSG_DONTWAIT;
        if (a[4] != 0 && now_ns() >= deadline) break;
        auto got = ctx.mem.read<int>(at + offsetof(msghdr, msg_flags));
        if (got && (*got & MSG_OOB) != 0) break;  // out-of-band data returns at once
    }
    if (a[4] != 0) {
        const int64_t left = std::max<int64_t>(0, deadline - now_ns());
        const timespec t{left / 1000000000L, left % 1000000000L};
        (void)ctx.mem.write(a[4], t);
    }
    if (done == 0 && err < 0) return err;
    return static_cast<int64_t>(done);
}

bool sockopt_rejected(int level, int name, bool set) {
    switch (level) {
        case SOL_IP: return set ? (name >= 64 && name < 132) : (name >= 128 && name < 132);
        case SOL_IPV6: return set && (name == 64 || name == 65);
        case SOL_PACKET: return name == PACKET_FANOUT_DATA;
        case SOL_TCP: return !set && name == TCP_ZEROCOPY_RECEIVE;
        case SOL_XDP: return true;
        case SOL_SOCKET: return !set && name == SO_PEERPIDFD;
        default: return false;
    }
}

// setsockopt(fd, level, name, optval, optlen).
int64_t sys_setsockopt(HostSyscallContext& ctx, const SyscallArgs& a) {
    FdRef f = ctx.fds.acquire(as_int(a[0]));
    if (!f) return -EBADF;
    const int level = as_int(a[1]), name = as_int(a[2]), len = as_int(a[4]);
    if (len < 0) return -EINVAL;
    if (sockopt_rejected(level, name, true)) return -EOPNOTSUPP;
    const uint8_t* val = ctx.mem.ptr(a[3], static_cast<uint64_t>(len));
    if (val == nullptr) return -EFAULT;
    if (level == SOL_SOCKET && (name == SO_ATTACH_FILTER || name == SO_ATTACH_REUSEPORT_CBPF)) {
        if (len < static_cast<int>(sizeof(sock_fprog))) return -EINVAL;
        sock_fprog g;
        std::memcpy(&g, val, sizeof(g));
        const uint64_t n = uint64_t{g.len} * sizeof(sock_filter);
        const uint8_t* src = ctx.mem.ptr(reinterpret_cast<uint64_t>(g.filter), n);
        if (src == nullptr) return -EFAULT;
        std::vector<sock_filter> prog(g.len);
        if (n > 0) std::memcpy(prog.data(), src, n);
        sock_fprog h{g.len, prog.data()};
        return raw(SYS_setsockopt, f->fd(), level, name, P(&h), sizeof(h));
    }
    if (level == SOL_SOCKET && (name == SO_ATTACH_BPF || name == SO_ATTACH_REUSEPORT_EBPF)) {
        if (len < static_cast<int>(sizeof(int))) return -EINVAL;
        int gfd;
        std::memcpy(&gfd, val, sizeof(gfd));
        FdRef prog = ctx.fds.acquire(gfd);
        if (!prog) return -EBADF;
        const int hfd = prog->fd();
        return raw(SYS_setsockopt, f->fd(), level, name, P(&hfd), sizeof(hfd));
    }
    // The value is flat: the kernel copies exactly len bytes, once.
    return raw(SYS_setsockopt, f->fd(), level, name, P(val), len);
}

// getsockopt(fd, level, name, optval, optlen*): the host writes at most the
// guest's length, which was validated.
int64_t sys_getsockopt(HostSyscallContext& ctx, const SyscallArgs& a) {
    FdRef f = ctx.fds.acquire(as_int(a[0]));
    if (!f) return -EBADF;
    const int level = as_int(a[1]), name = as_int(a[2]);
    auto l = ctx.mem.read<int>(a[4]);
    if (!l) return -EFAULT;
    if (*l < 0) return -EINVAL;
    if (sockopt_rejected(level, name, false)) return -EOPNOTSUPP;
    uint8_t* val = ctx.mem.ptr(a[3], static_cast<uint64_t>(*l));
    if (val == nullptr) return -EFAULT;
    socklen_t len = static_cast<socklen_t>(*l);
    int64_t r = raw(SYS_getsockopt, f->fd(), level, name, P(val), P(&len));
    if (r < 0) return r;
    return ctx.mem.write(a[4], static_cast<int>(len)) ? 0 : -EFAULT;
}

// select / pselect6. Guest fd_sets are bitmaps over GUEST fd numbers below
// nfds (FDS_BYTES(nfds) = whole longs); each set bit is translated to a host
// fd (-EBADF if unmapped, as in Linux) and the host call runs over bitmaps
// sized for the largest host fd, so host fds above FD_SETSIZE work too.
// Results are mapped back bit by bit; the guest sets are overwritten with
// whole longs, as the kernel does.
using FdBits = std::vector<unsigned long>;
constexpr uint64_t kBitsPerLong = 64;

struct SelectSets {
    std::array<uint64_t, 3> gva{};         // readfds, writefds, exceptfds (0 = NULL)
    std::array<FdBits, 3> guest;           // copied guest bitmaps
    std::array<FdBits, 3> host;            // host bitmaps
    std::vector<FdRef> pins;               // index = guest fd (only set ones)
};

bool bit(const FdBits& b, uint64_t i) { return (b[i / kBitsPerLong] >> (i % kBitsPerLong)) & 1UL; }
void set_bit(FdBits& b, uint64_t i) { b[i / kBitsPerLong] |= 1UL << (i % kBitsPerLong); }

int64_t do_select(HostSyscallContext& ctx, int nfds_arg, uint64_t r, uint64_t w, uint64_t e, timespec* tmo) {
    if (nfds_arg < 0) return -EINVAL;
    // core_sys_select clamps n to the table size; the table limit is ours.
    const uint64_t nfds = std::min<uint64_t>(static_cast<uint64_t>(nfds_arg), static_cast<uint64_t>(ctx.fds.limit()));
    const uint64_t words = (nfds + kBitsPerLong - 1) / kBitsPerLong;
    const uint64_t bytes = words * sizeof(unsigned long);
    SelectSets s;
    s.gva = {r, w, e};
    s.pins.resize(nfds);
    int host_max = -1;
    for (size_t k = 0; k < 3; ++k) {
        s.guest[k].assign(words, 0);
        if (s.gva[k] == 0 || bytes == 0) continue;
        const uint8_t* p = ctx.mem.ptr(s.gva[k], bytes);
        if (p == nullptr) return -EFAULT;
        std::memcpy(s.guest[k].data(), p, bytes);
    }
    for (uint64_t i = 0; i < nfds; ++i) {
        if (!bit(s.guest[0], i) && !bit(s.guest[1], i) && !bit(s.guest[2], i)) continue;
        s.pins[i] = ctx.fds.acquire(static_cast<int>(i));
        if (!s.pins[i]) return -EBADF;
        host_max = std::max(host_max, s.pins[i]->fd());
    }
    const uint64_t hwords = (static_cast<uint64_t>(host_max + 1) + kBitsPerLong - 1) / kBitsPerLong;
    for (size_t k = 0; k < 3; ++k) {
        s.host[k].assign(std::max<uint64_t>(hwords, 1), 0);
        for (uint64_t i = 0; i < nfds; ++i) {
            if (bit(s.guest[k], i)) set_bit(s.host[k], static_cast<uint64_t>(s.pins[i]->fd()));
        }
    }
    auto hp = [&](size_t k) { return s.gva[k] != 0 ? P(s.host[k].data()) : 0L; };
    const sigset_t* wm = host_wait_mask();
    const struct {
        const sigset_t* ss;
        size_t len;
    } mask_arg{wm, kHostSigsetSize};
    int64_t n = raw(SYS_pselect6, host_max + 1, hp(0), hp(1), hp(2), P(tmo), wm ? P(&mask_arg) : 0);
    if (n < 0) return n;
    for (size_t k = 0; k < 3; ++k) {
        if (s.gva[k] == 0 || bytes == 0) continue;
        FdBits out(words, 0);
        for (uint64_t i = 0; i < nfds; ++i) {
            if (bit(s.guest[k], i) && bit(s.host[k], static_cast<uint64_t>(s.pins[i]->fd()))) set_bit(out, i);
        }
        uint8_t* p = ctx.mem.wptr(s.gva[k], bytes);
        if (p == nullptr) return -EFAULT;
        std::memcpy(p, out.data(), bytes);
    }
    return n;
}

// select(nfds, r, w, e, timeval*|NULL): the time left is written back.
int64_t sys_select(HostSyscallContext& ctx, const SyscallArgs& a) {
    if (a[4] == 0) return do_select(ctx, as_int(a[0]), a[1], a[2], a[3], nullptr);
    auto tv = ctx.mem.read<timeval>(a[4]);
    if (!tv) return -EFAULT;
    if (tv->tv_sec < 0 || tv->tv_usec < 0) return -EINVAL;
    // poll_select_set_timeout normalises usec >= 1e6 into seconds.
    timespec left{tv->tv_sec + tv->tv_usec / 1000000, (tv->tv_usec % 1000000) * 1000};
    int64_t r = do_select(ctx, as_int(a[0]), a[1], a[2], a[3], &left);
    const timeval out{left.tv_sec, left.tv_nsec / 1000};
    (void)ctx.mem.write(a[4], out);  // Linux ignores a fault here
    return r;
}

// pselect6(nfds, r, w, e, timespec*|NULL, sigmask-struct (ignored, see
// host_syscalls.hpp: signals are emulated by the VMM)).
int64_t sys_pselect6(HostSyscallContext& ctx, const SyscallArgs& a) {
    if (a[4] == 0) return do_select(ctx, as_int(a[0]), a[1], a[2], a[3], nullptr);
    auto t = ctx.mem.read<timespec>(a[4]);
    if (!t) return -EFAULT;
    if (t->tv_sec < 0 || t->tv_nsec < 0 || t->tv_nsec >= 1000000000L) return -EINVAL;
    timespec left = *t;
    int64_t r = do_select(ctx, as_int(a[0]), a[1], a[2], a[3], &left);
    (void)ctx.mem.write(a[4], left);
    return r;
}

}  // namespace

void register_net(HandlerTable& t) {
    t.add(SYS_socket, sys_socket);
    t.add(SYS_socketpair, sys_socketpair);
    t.add(SYS_bind, addr_call<SYS_bind>);
    t.add(SYS_connect, addr_call<SYS_connect>);
    t.add(SYS_listen, fd_int_call<SYS_listen>);
    t.add(SYS_shutdown, fd_int_call<SYS_shutdown>);
    t.add(SYS_accept, sys_accept);
    t.add(SYS_accept4, sys_accept4);
    t.add(SYS_getsockname, name_call<SYS_getsockname>);
    t.add(SYS_getpeername, name_call<SYS_getpeername>);
    t.add(SYS_sendto, sys_sendto);
    t.add(SYS_recvfrom, sys_recvfrom);
    t.add(SYS_sendmsg, sys_sendmsg);
    t.add(SYS_recvmsg, sys_recvmsg);
    t.add(SYS_sendmmsg, sys_sendmmsg);
    t.add(SYS_recvmmsg, sys_recvmmsg);
    t.add(SYS_setsockopt, sys_setsockopt);
    t.add(SYS_getsockopt, sys_getsockopt);
    t.add(SYS_select, sys_select);
    t.add(SYS_pselect6, sys_pselect6);
}

}  // namespace spanvm::process::detail
