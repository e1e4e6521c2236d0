#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "vmm/process/syscalls/host_syscalls.hpp"
#include "tests/unit/fake_guest.hpp"

using namespace spanvm::process;

namespace {

using testing::kLo;
using testing::kRamSize;
constexpr uint64_t kBad = kRamSize + 0x1000;  // outside the guest window

struct Guest : testing::FakeGuest {
    explicit Guest(int fd_limit = FdTable::kDefaultLimit) : FakeGuest(1, fd_limit, false, "net") {}
    template <typename T>
    uint64_t put_obj(const T& v) {
        const uint64_t at = alloc(sizeof(T));
        std::memcpy(ram.data() + at, &v, sizeof(T));
        return at;
    }
    template <typename T>
    T get_obj(uint64_t gva) const {
        T v;
        std::memcpy(&v, ram.data() + gva, sizeof(T));
        return v;
    }
    // A guest msghdr with iovecs over the given guest buffers.
    uint64_t msg(const std::vector<std::pair<uint64_t, size_t>>& bufs, uint64_t name = 0, socklen_t namelen = 0,
                 uint64_t control = 0, size_t controllen = 0) {
        const uint64_t iov = alloc(bufs.size() * sizeof(iovec));
        for (size_t i = 0; i < bufs.size(); ++i) {
            const iovec v{reinterpret_cast<void*>(bufs[i].first), bufs[i].second};
            std::memcpy(ram.data() + iov + i * sizeof(iovec), &v, sizeof(v));
        }
        msghdr m{};
        m.msg_name = reinterpret_cast<void*>(name);
        m.msg_namelen = namelen;
        m.msg_iov = reinterpret_cast<iovec*>(iov);
        m.msg_iovlen = bufs.size();
        m.msg_control = reinterpret_cast<void*>(control);
        m.msg_controllen = controllen;
        return put_obj(m);
    }
};

sockaddr_in loopback(uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

}  // namespace

SCENARIO("socketpair and a sendmsg/recvmsg round trip with iovecs") {
    GIVEN("a guest socketpair created with SOCK_CLOEXEC") {
        Guest g;
        const uint64_t sv = g.alloc(8);
        REQUIRE(g.call(SYS_socketpair, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
        const int s0 = g.get_obj<int>(sv), s1 = g.get_obj<int>(sv + 4);
        WHEN("two iovecs are sent and received into differently split iovecs") {
            const uint64_t a = g.put("abc"), b = g.put("defg");
            const int64_t sent = g.call(SYS_sendmsg, static_cast<uint64_t>(s0), g.msg({{a, 3}, {b, 4}}), 0);
            const uint64_t r1 = g.alloc(2), r2 = g.alloc(16);
            const uint64_t m = g.msg({{r1, 2}, {r2, 16}});
            const int64_t got = g.call(SYS_recvmsg, static_cast<uint64_t>(s1), m, 0);
            const msghdr out = g.get_obj<msghdr>(m);
            THEN("the bytes arrive in order and the table holds both ends as cloexec") {
                CHECK(s0 == 0);
                CHECK(s1 == 1);
                CHECK(sent == 7);
                CHECK(got == 7);
                CHECK(g.get(r1, 2) == "ab");
                CHECK(g.get(r2, 5) == "cdefg");
                CHECK(out.msg_flags == 0);
                CHECK(out.msg_controllen == 0);
                CHECK(g.fds.get_cloexec(s0) == 1);
                CHECK(g.fds.get_cloexec(s1) == 1);
            }
        }
        WHEN("the guest's msghdr, iovec buffer or fd is bad") {
            const uint64_t a = g.put("x");
            THEN("EFAULT and EBADF come back without touching the host") {
                CHECK(g.call(SYS_sendmsg, static_cast<uint64_t>(s0), kBad, 0) == -EFAULT);
                CHECK(g.call(SYS_sendmsg, static_cast<uint64_t>(s0), g.msg({{kBad, 4}}), 0) == -EFAULT);
                CHECK(g.call(SYS_recvmsg, static_cast<uint64_t>(s1), g.msg({{kBad, 4}}), 0) == -EFAULT);
                CHECK(g.call(SYS_sendmsg, 50, g.msg({{a, 1}}), 0) == -EBADF);
                CHECK(g.call(SYS_sendto, static_cast<uint64_t>(s0), kBad, 1, 0, 0, 0) == -EFAULT);
                CHECK(g.call(SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, kBad) == -EFAULT);
                CHECK(g.call(SYS_shutdown, 50, SHUT_RDWR) == -EBADF);
            }
        }
    }
}

SCENARIO("AF_UNIX bind/listen/connect/accept with socket names") {
    GIVEN("a listening AF_UNIX socket bound in a temp dir") {
        Guest g;
        const int64_t srv = g.call(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
        REQUIRE(srv >= 0);
        sockaddr_un sun{};
        sun.sun_family = AF_UNIX;
        const std::string path = g.dir + "/sock";
        std::strncpy(sun.sun_path, path.c_str(), sizeof(sun.sun_path) - 1);
        const auto sunlen = static_cast<uint64_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
        const uint64_t addr = g.put_obj(sun);
        REQUIRE(g.call(SYS_bind, static_cast<uint64_t>(srv), addr, sunlen) == 0);
        REQUIRE(g.call(SYS_listen, static_cast<uint64_t>(srv), 4) == 0);
        WHEN("a client connects and the server accepts with an address out-param") {
            const int64_t cli = g.call(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
            const int64_t con = g.call(SYS_connect, static_cast<uint64_t>(cli), addr, sunlen);
            const uint64_t peer = g.alloc(sizeof(sockaddr_un));
            const uint64_t peerlen = g.put_obj<int>(sizeof(sockaddr_un));
            const int64_t acc = g.call(SYS_accept4, static_cast<uint64_t>(srv), peer, peerlen, SOCK_CLOEXEC);
            const uint64_t name = g.alloc(sizeof(sockaddr_un));
            const uint64_t namelen = g.put_obj<int>(sizeof(sockaddr_un));
            const int64_t gpn = g.call(SYS_getpeername, static_cast<uint64_t>(cli), name, namelen);
            const uint64_t small = g.alloc(16);
            const uint64_t smalllen = g.put_obj<int>(4);
            const int64_t gsn = g.call(SYS_getsockname, static_cast<uint64_t>(srv), small, smalllen);
            THEN("the names round-trip, truncated to the guest's length with the full length reported") {
                CHECK(con == 0);
                REQUIRE(acc >= 0);
                CHECK(g.fds.get_cloexec(static_cast<int>(acc)) == 1);
                CHECK(g.get_obj<int>(peerlen) == static_cast<int>(sizeof(sa_family_t)));  // unnamed client
                CHECK(gpn == 0);
                CHECK(g.get_obj<int>(namelen) == static_cast<int>(sunlen));
                CHECK(std::string(g.get_obj<sockaddr_un>(name).sun_path) == path);
                CHECK(gsn == 0);
                CHECK(g.get_obj<int>(smalllen) == static_cast<int>(sunlen));
                CHECK(g.get(small + 2, 2) == path.substr(0, 2));
                CHECK(g.ram[small + 4] == 0);  // nothing written past the guest's 4 bytes
                const uint64_t msg = g.put("hi");
                CHECK(g.call(SYS_write, static_cast<uint64_t>(acc), msg, 2) == 2);
                const uint64_t buf = g.alloc(4);
                CHECK(g.call(SYS_read, static_cast<uint64_t>(cli), buf, 4) == 2);
                CHECK(g.get(buf, 2) == "hi");
            }
        }
        WHEN("addresses or lengths are bad") {
            const int64_t cli = g.call(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
            const uint64_t len = g.put_obj<int>(-1);
            THEN("EINVAL/EFAULT/EBADF like the kernel") {
                CHECK(g.call(SYS_connect, static_cast<uint64_t>(cli), addr, 200) == -EINVAL);
                CHECK(g.call(SYS_connect, static_cast<uint64_t>(cli), kBad, sunlen) == -EFAULT);
                CHECK(g.call(SYS_getsockname, static_cast<uint64_t>(srv), addr, kBad) == -EFAULT);
                CHECK(g.call(SYS_getsockname, static_cast<uint64_t>(srv), addr, len) == -EINVAL);
                CHECK(g.call(SYS_accept, 77, 0, 0) == -EBADF);
                CHECK(g.call(SYS_bind, 77, addr, sunlen) == -EBADF);
            }
        }
    }
}

SCENARIO("UDP sendto/recvfrom on 127.0.0.1 with address out-params") {
    GIVEN("two UDP sockets, the server bound to an ephemeral loopback port") {
        Guest g;
        const int64_t srv = g.call(SYS_socket, AF_INET, SOCK_DGRAM, 0);
        const int64_t cli = g.call(SYS_socket, AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
        REQUIRE(srv >= 0);
        REQUIRE(cli >= 0);
        REQUIRE(g.call(SYS_bind, static_cast<uint64_t>(srv), g.put_obj(loopback(0)), sizeof(sockaddr_in)) == 0);
        const uint64_t sa = g.alloc(sizeof(sockaddr_in));
        const uint64_t salen = g.put_obj<int>(sizeof(sockaddr_in));
        REQUIRE(g.call(SYS_getsockname, static_cast<uint64_t>(srv), sa, salen) == 0);
        const uint16_t port = ntohs(g.get_obj<sockaddr_in>(sa).sin_port);
        WHEN("the client sends a datagram and the server receives it with its source") {
            const uint64_t data = g.put("ping");
            const int64_t sent =
                g.call(SYS_sendto, static_cast<uint64_t>(cli), data, 4, 0, g.put_obj(loopback(port)), sizeof(sockaddr_in));
            const uint64_t buf = g.alloc(16);
            const uint64_t from = g.alloc(sizeof(sockaddr_in));
            const uint64_t fromlen = g.put_obj<int>(sizeof(sockaddr_in));
            const int64_t got = g.call(SYS_recvfrom, static_cast<uint64_t>(srv), buf, 16, 0, from, fromlen);
            const uint64_t ca = g.alloc(sizeof(sockaddr_in));
            const uint64_t calen = g.put_obj<int>(sizeof(sockaddr_in));
            REQUIRE(g.call(SYS_getsockname, static_cast<uint64_t>(cli), ca, calen) == 0);
            THEN("the payload and the client's address arrive") {
                CHECK(port != 0);
                CHECK(sent == 4);
                CHECK(got == 4);
                CHECK(g.get(buf, 4) == "ping");
                CHECK(g.get_obj<int>(fromlen) == static_cast<int>(sizeof(sockaddr_in)));
                CHECK(g.get_obj<sockaddr_in>(from).sin_port == g.get_obj<sockaddr_in>(ca).sin_port);
                CHECK(g.get_obj<sockaddr_in>(from).sin_addr.s_addr == htonl(INADDR_LOOPBACK));
                // SOCK_NONBLOCK reached the host: an empty queue is EAGAIN.
                CHECK(g.call(SYS_recvfrom, static_cast<uint64_t>(cli), buf, 16, 0, 0, 0) == -EAGAIN);
            }
        }
        WHEN("socket options are set and read back") {
            const uint64_t one = g.put_obj<int>(1);
            const int64_t s = g.call(SYS_setsockopt, static_cast<uint64_t>(srv), SOL_SOCKET, SO_REUSEADDR, one, 4);
            const uint64_t val = g.put_obj<int>(0);
            const uint64_t len = g.put_obj<int>(4);
            const int64_t r = g.call(SYS_getsockopt, static_cast<uint64_t>(srv), SOL_SOCKET, SO_REUSEADDR, val, len);
            const uint64_t tlen = g.put_obj<int>(4);
            THEN("the value round-trips and bad pointers/rejected options fail cleanly") {
                CHECK(s == 0);
                CHECK(r == 0);
                CHECK(g.get_obj<int>(val) == 1);
                CHECK(g.get_obj<int>(len) == 4);
                CHECK(g.call(SYS_getsockopt, static_cast<uint64_t>(srv), SOL_SOCKET, SO_TYPE, kBad, tlen) == -EFAULT);
                CHECK(g.call(SYS_setsockopt, static_cast<uint64_t>(srv), SOL_SOCKET, SO_REUSEADDR, kBad, 4) == -EFAULT);
                CHECK(g.call(SYS_setsockopt, static_cast<uint64_t>(srv), SOL_IP, 64, one, 4) == -EOPNOTSUPP);
            }
        }
    }
}

SCENARIO("SCM_RIGHTS passes a guest fd through a unix socket") {
    GIVEN("a socketpair and a file holding xyz") {
        Guest g;
        const uint64_t sv = g.alloc(8);
        REQUIRE(g.call(SYS_socketpair, AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
        const uint64_t s0 = static_cast<uint64_t>(g.get_obj<int>(sv)), s1 = static_cast<uint64_t>(g.get_obj<int>(sv + 4));
        const int64_t file = g.call(SYS_openat, static_cast<uint64_t>(AT_FDCWD), g.put(g.dir + "/f"),
                                    O_CREAT | O_RDWR, 0600);
        REQUIRE(file >= 0);
        REQUIRE(g.call(SYS_write, static_cast<uint64_t>(file), g.put("xyz"), 3) == 3);
        auto rights = [&](int fd) {
            const uint64_t c = g.alloc(CMSG_SPACE(sizeof(int)));
            cmsghdr h{};
            h.cmsg_len = CMSG_LEN(sizeof(int));
            h.cmsg_level = SOL_SOCKET;
            h.cmsg_type = SCM_RIGHTS;
            std::memcpy(g.ram.data() + c, &h, sizeof(h));
            std::memcpy(g.ram.data() + c + sizeof(h), &fd, sizeof(fd));
            return c;
        };
        WHEN("the guest sends its file fd and receives it with MSG_CMSG_CLOEXEC") {
            const uint64_t d = g.put("!");
            const int64_t sent = g.call(SYS_sendmsg, s0, g.msg({{d, 1}}, 0, 0, rights(static_cast<int>(file)),
                                                               CMSG_SPACE(sizeof(int))), 0);
            const uint64_t rb = g.alloc(4);
            const uint64_t rc = g.alloc(64);
            const uint64_t m = g.msg({{rb, 4}}, 0, 0, rc, 64);
            const size_t open_before = g.fds.open_count();
            const int64_t got = g.call(SYS_recvmsg, s1, m, MSG_CMSG_CLOEXEC);
            const msghdr out = g.get_obj<msghdr>(m);
            const cmsghdr h = g.get_obj<cmsghdr>(rc);
            const int newfd = g.get_obj<int>(rc + sizeof(cmsghdr));
            THEN("the control message names a new guest fd for the same file") {
                CHECK(sent == 1);
                CHECK(got == 1);
                CHECK(out.msg_controllen == CMSG_SPACE(sizeof(int)));
                CHECK(out.msg_flags == MSG_CMSG_CLOEXEC);  // echoed, as Linux does
                CHECK(h.cmsg_type == SCM_RIGHTS);
                CHECK(g.fds.open_count() == open_before + 1);
                REQUIRE(g.fds.is_open(newfd));
                CHECK(newfd != file);
                CHECK(g.fds.get_cloexec(newfd) == 1);
                const uint64_t buf = g.alloc(4);
                CHECK(g.call(SYS_pread64, static_cast<uint64_t>(newfd), buf, 3, 0) == 3);
                CHECK(g.get(buf, 3) == "xyz");
            }
        }
        WHEN("the guest sends an fd number it does not have") {
            const uint64_t d = g.put("!");
            const int64_t sent =
                g.call(SYS_sendmsg, s0, g.msg({{d, 1}}, 0, 0, rights(300), CMSG_SPACE(sizeof(int))), 0);
            THEN("sendmsg is EBADF") { CHECK(sent == -EBADF); }
        }
    }
}

SCENARIO("sendmmsg/recvmmsg move several datagrams") {
    GIVEN("a SOCK_DGRAM socketpair") {
        Guest g;
        const uint64_t sv = g.alloc(8);
        REQUIRE(g.call(SYS_socketpair, AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
        WHEN("two datagrams are sent in one call and received in one call") {
            const uint64_t out = g.alloc(2 * sizeof(mmsghdr));
            const uint64_t a = g.put("one"), b = g.put("three");
            std::memcpy(g.ram.data() + out, g.ram.data() + g.msg({{a, 3}}), sizeof(msghdr));
            std::memcpy(g.ram.data() + out + sizeof(mmsghdr), g.ram.data() + g.msg({{b, 5}}), sizeof(msghdr));
            const int64_t sent = g.call(SYS_sendmmsg, static_cast<uint64_t>(g.get_obj<int>(sv)), out, 2, 0);
            const uint64_t in = g.alloc(2 * sizeof(mmsghdr));
            const uint64_t r1 = g.alloc(8), r2 = g.alloc(8);
            std::memcpy(g.ram.data() + in, g.ram.data() + g.msg({{r1, 8}}), sizeof(msghdr));
            std::memcpy(g.ram.data() + in + sizeof(mmsghdr), g.ram.data() + g.msg({{r2, 8}}), sizeof(msghdr));
            const int64_t got =
                g.call(SYS_recvmmsg, static_cast<uint64_t>(g.get_obj<int>(sv + 4)), in, 2, MSG_DONTWAIT, 0);
            THEN("both arrive with their lengths") {
                CHECK(sent == 2);
                CHECK(g.get_obj<mmsghdr>(out + sizeof(mmsghdr)).msg_len == 5);
                CHECK(got == 2);
                CHECK(g.get_obj<mmsghdr>(in).msg_len == 3);
                CHECK(g.get_obj<mmsghdr>(in + sizeof(mmsghdr)).msg_len == 5);
                CHECK(g.get(r1, 3) == "one");
                CHECK(g.get(r2, 5) == "three");
            }
        }
    }
}

SCENARIO("select and pselect6 translate guest fd_sets") {
    GIVEN("a pipe whose write end is also dup'ed to guest fd 200") {
        Guest g;
        const uint64_t p = g.alloc(8);
        REQUIRE(g.call(SYS_pipe2, p, 0) == 0);
        const int rd = g.get_obj<int>(p), wr = g.get_obj<int>(p + 4);
        REQUIRE(g.call(SYS_dup2, static_cast<uint64_t>(wr), 200) == 200);
        auto sets = [&](std::vector<int> r, std::vector<int> w) {
            fd_set rs, ws;
            FD_ZERO(&rs);
            FD_ZERO(&ws);
            for (int f : r) FD_SET(f, &rs);
            for (int f : w) FD_SET(f, &ws);
            return std::pair{g.put_obj(rs), g.put_obj(ws)};
        };
        WHEN("nothing has been written and the timeout is zero") {
            auto [rs, ws] = sets({rd}, {200});
            const uint64_t tv = g.put_obj(timeval{0, 0});
            const int64_t n = g.call(SYS_select, 201, rs, ws, 0, tv);
            THEN("only the write end (as guest fd 200) is ready") {
                CHECK(n == 1);
                const fd_set r = g.get_obj<fd_set>(rs), w = g.get_obj<fd_set>(ws);
                CHECK_FALSE(FD_ISSET(rd, &r));
                CHECK(FD_ISSET(200, &w));
            }
        }
        WHEN("a byte is written") {
            REQUIRE(g.call(SYS_write, static_cast<uint64_t>(wr), g.put("x"), 1) == 1);
            auto [rs, ws] = sets({rd}, {wr});
            const uint64_t ts = g.put_obj(timespec{1, 0});
            const int64_t n = g.call(SYS_pselect6, 201, rs, ws, 0, ts, 0);
            THEN("both ends are ready") {
                CHECK(n == 2);
                const fd_set r = g.get_obj<fd_set>(rs), w = g.get_obj<fd_set>(ws);
                CHECK(FD_ISSET(rd, &r));
                CHECK(FD_ISSET(wr, &w));
            }
        }
        WHEN("a set names an unmapped fd or lies outside guest memory, or the timeout is bad") {
            auto [rs, ws] = sets({rd, 150}, {});
            const uint64_t bad_tv = g.put_obj(timeval{-1, 0});
            THEN("EBADF / EFAULT / EINVAL") {
                CHECK(g.call(SYS_select, 201, rs, 0, 0, 0) == -EBADF);
                CHECK(g.call(SYS_select, 201, kBad, 0, 0, 0) == -EFAULT);
                CHECK(g.call(SYS_select, 201, ws, 0, 0, bad_tv) == -EINVAL);
                CHECK(g.call(SYS_select, static_cast<uint64_t>(-1), 0, 0, 0, 0) == -EINVAL);
            }
        }
    }
}

SCENARIO("xattrs on a temp file") {
    GIVEN("a regular file") {
        Guest g;
        const std::string path = g.dir + "/x";
        const int64_t fd = g.call(SYS_openat, static_cast<uint64_t>(AT_FDCWD), g.put(path), O_CREAT | O_RDWR, 0600);
        REQUIRE(fd >= 0);
        const uint64_t p = g.put(path), name = g.put("user.spanvm"), val = g.put("v1");
        WHEN("user.spanvm is set, read, listed and removed") {
            const int64_t set = g.call(SYS_setxattr, p, name, val, 2, 0);
            if (set == -EOPNOTSUPP) {
                THEN("the filesystem's refusal passes through unchanged") {
                    CHECK(g.call(SYS_lgetxattr, p, name, 0, 0) == -EOPNOTSUPP);
                }
            } else {
                const int64_t size = g.call(SYS_getxattr, p, name, 0, 0);
                const uint64_t buf = g.alloc(16);
                const int64_t got = g.call(SYS_lgetxattr, p, name, buf, 16);
                const uint64_t fbuf = g.alloc(16);
                const int64_t fgot = g.call(SYS_fgetxattr, static_cast<uint64_t>(fd), name, fbuf, 16);
                const uint64_t list = g.alloc(256);
                const int64_t ll = g.call(SYS_listxattr, p, list, 256);
                const int64_t fll = g.call(SYS_flistxattr, static_cast<uint64_t>(fd), 0, 0);
                const int64_t rm = g.call(SYS_fremovexattr, static_cast<uint64_t>(fd), name);
                THEN("the value round-trips and is gone after removal") {
                    CHECK(set == 0);
                    CHECK(size == 2);
                    CHECK(got == 2);
                    CHECK(g.get(buf, 2) == "v1");
                    CHECK(fgot == 2);
                    CHECK(g.get(fbuf, 2) == "v1");
                    REQUIRE(ll > 0);
                    const std::string names = g.get(list, static_cast<size_t>(ll));
                    CHECK(names.find(std::string("user.spanvm\0", 12)) != std::string::npos);
                    CHECK(fll == ll);
                    CHECK(rm == 0);
                    CHECK(g.call(SYS_getxattr, p, name, buf, 16) == -ENODATA);
                }
            }
        }
        WHEN("names, buffers or fds are bad") {
            const uint64_t empty = g.put("");
            const uint64_t longname = g.put("user." + std::string(300, 'a'));
            THEN("ERANGE / EFAULT / EBADF") {
                CHECK(g.call(SYS_getxattr, p, empty, 0, 0) == -ERANGE);
                CHECK(g.call(SYS_getxattr, p, longname, 0, 0) == -ERANGE);
                CHECK(g.call(SYS_getxattr, p, kBad, 0, 0) == -EFAULT);
                CHECK(g.call(SYS_getxattr, kBad, name, 0, 0) == -EFAULT);
                CHECK(g.call(SYS_listxattr, p, kBad, 64) == -EFAULT);
                CHECK(g.call(SYS_setxattr, p, name, kBad, 2, 0) == -EFAULT);
                CHECK(g.call(SYS_setxattr, p, name, val, 70000, 0) == -E2BIG);
                CHECK(g.call(SYS_fgetxattr, 99, name, 0, 0) == -EBADF);
            }
        }
    }
}

SCENARIO("mknodat, splice and tee") {
    GIVEN("a temp dir, a file holding hello and a pipe") {
        Guest g;
        const int64_t file = g.call(SYS_openat, static_cast<uint64_t>(AT_FDCWD), g.put(g.dir + "/h"), O_CREAT | O_RDWR, 0600);
        REQUIRE(file >= 0);
        REQUIRE(g.call(SYS_write, static_cast<uint64_t>(file), g.put("hello"), 5) == 5);
        const uint64_t p = g.alloc(8);
        REQUIRE(g.call(SYS_pipe2, p, 0) == 0);
        const uint64_t rd = static_cast<uint64_t>(g.get_obj<int>(p)), wr = static_cast<uint64_t>(g.get_obj<int>(p + 4));
        WHEN("a FIFO is made and the file is spliced from offset 1 into the pipe") {
            const int64_t mk = g.call(SYS_mknodat, static_cast<uint64_t>(AT_FDCWD), g.put(g.dir + "/fifo"), S_IFIFO | 0600, 0);
            const uint64_t off = g.put_obj<int64_t>(1);
            const int64_t sp = g.call(SYS_splice, static_cast<uint64_t>(file), off, wr, 0, 3, 0);
            const uint64_t buf = g.alloc(8);
            const int64_t rn = g.call(SYS_read, rd, buf, 8);
            THEN("the FIFO exists and the bytes and the updated offset are right") {
                CHECK(mk == 0);
                struct stat st {};
                CHECK(::stat((g.dir + "/fifo").c_str(), &st) == 0);
                CHECK(S_ISFIFO(st.st_mode));
                CHECK(sp == 3);
                CHECK(g.get_obj<int64_t>(off) == 4);
                CHECK(rn == 3);
                CHECK(g.get(buf, 3) == "ell");
                CHECK(g.call(SYS_splice, static_cast<uint64_t>(file), kBad, wr, 0, 3, 0) == -EFAULT);
                CHECK(g.call(SYS_splice, 99, 0, wr, 0, 3, 0) == -EBADF);
            }
        }
        WHEN("tee duplicates pipe data into a second pipe") {
            const uint64_t q = g.alloc(8);
            REQUIRE(g.call(SYS_pipe2, q, 0) == 0);
            REQUIRE(g.call(SYS_write, wr, g.put("abc"), 3) == 3);
            const int64_t t = g.call(SYS_tee, rd, static_cast<uint64_t>(g.get_obj<int>(q + 4)), 3, 0);
            const uint64_t b1 = g.alloc(4), b2 = g.alloc(4);
            THEN("both pipes hold the data") {
                CHECK(t == 3);
                CHECK(g.call(SYS_read, rd, b1, 4) == 3);
                CHECK(g.call(SYS_read, static_cast<uint64_t>(g.get_obj<int>(q)), b2, 4) == 3);
                CHECK(g.get(b1, 3) == "abc");
                CHECK(g.get(b2, 3) == "abc");
                CHECK(g.call(SYS_tee, rd, 99, 3, 0) == -EBADF);
            }
        }
    }
}

SCENARIO("received SCM_RIGHTS fds that do not fit the table are cut with MSG_CTRUNC") {
    GIVEN("a table with room for 4 fds: a socketpair, a file, one free slot") {
        Guest g(4);
        const uint64_t sv = g.alloc(8);
        REQUIRE(g.call(SYS_socketpair, AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
        const int64_t file = g.call(SYS_openat, static_cast<uint64_t>(AT_FDCWD), g.put(g.dir + "/f"), O_CREAT | O_RDWR, 0600);
        REQUIRE(file == 2);
        WHEN("two fds arrive in one SCM_RIGHTS message") {
            const uint64_t c = g.alloc(CMSG_SPACE(2 * sizeof(int)));
            cmsghdr h{};
            h.cmsg_len = CMSG_LEN(2 * sizeof(int));
            h.cmsg_level = SOL_SOCKET;
            h.cmsg_type = SCM_RIGHTS;
            const int two[2] = {2, 2};
            std::memcpy(g.ram.data() + c, &h, sizeof(h));
            std::memcpy(g.ram.data() + c + sizeof(h), two, sizeof(two));
            const uint64_t d = g.put("!");
            const int64_t sent = g.call(SYS_sendmsg, static_cast<uint64_t>(g.get_obj<int>(sv)),
                                        g.msg({{d, 1}}, 0, 0, c, CMSG_SPACE(2 * sizeof(int))), 0);
            const uint64_t rb = g.alloc(4), rc = g.alloc(64);
            const uint64_t m = g.msg({{rb, 4}}, 0, 0, rc, 64);
            const int64_t got = g.call(SYS_recvmsg, static_cast<uint64_t>(g.get_obj<int>(sv + 4)), m, 0);
            const msghdr out = g.get_obj<msghdr>(m);
            THEN("the first is installed as guest fd 3 and the message is truncated to it") {
                CHECK(sent == 1);
                CHECK(got == 1);
                CHECK((out.msg_flags & MSG_CTRUNC) != 0);
                CHECK(out.msg_controllen == CMSG_SPACE(sizeof(int)));
                CHECK(g.get_obj<cmsghdr>(rc).cmsg_len == CMSG_LEN(sizeof(int)));
                CHECK(g.get_obj<int>(rc + sizeof(cmsghdr)) == 3);
                CHECK(g.fds.open_count() == 4);
                CHECK(g.fds.get_cloexec(3) == 0);
            }
        }
    }
}
