#include <doctest/doctest.h>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "vmm/process/syscalls/host_syscalls.hpp"
#include "tests/unit/fake_guest.hpp"
#include "vmm/process/syscalls/syscall_names.hpp"

using namespace spanvm::process;

namespace {

using testing::kLo;
using testing::kRamSize;

struct Guest : testing::FakeGuest {
    Guest() : FakeGuest(4, FdTable::kDefaultLimit, true, "hostsys") {}
    int32_t i32(uint64_t gva) const {
        int32_t v;
        std::memcpy(&v, ram.data() + gva, 4);
        return v;
    }
    static uint64_t fd_arg(int fd) { return static_cast<uint64_t>(static_cast<int64_t>(fd)); }
    int64_t open_file(const std::string& name, int flags) {
        return call(SYS_openat, fd_arg(AT_FDCWD), put(dir + "/" + name), static_cast<uint64_t>(flags), 0600);
    }
};

}  // namespace

SCENARIO("open, write, read and close a file through host_syscall") {
    GIVEN("a guest and an empty temp dir") {
        Guest g;
        WHEN("a file is created, written, rewound, read and closed") {
            const int64_t fd = g.open_file("a.txt", O_CREAT | O_RDWR | O_CLOEXEC);
            REQUIRE(fd == 3);
            const uint64_t msg = g.put("hello guest");
            const int64_t w = g.call(SYS_write, 3, msg, 11);
            const int64_t off = g.call(SYS_lseek, 3, 0, SEEK_SET);
            const uint64_t buf = g.alloc(64);
            const int64_t r = g.call(SYS_read, 3, buf, 64);
            const uint64_t st = g.alloc(sizeof(struct stat));
            const int64_t fs = g.call(SYS_fstat, 3, st);
            struct stat s;
            std::memcpy(&s, g.ram.data() + st, sizeof(s));
            THEN("the bytes round-trip and the table tracks the fd") {
                CHECK(w == 11);
                CHECK(off == 0);
                CHECK(r == 11);
                CHECK(g.get(buf, 11) == "hello guest");
                CHECK(fs == 0);
                CHECK(s.st_size == 11);
                CHECK(g.call(SYS_fcntl, 3, F_GETFD) == FD_CLOEXEC);
                CHECK((g.call(SYS_fcntl, 3, F_GETFL) & O_CLOEXEC) == 0);
                CHECK(g.call(SYS_close, 3) == 0);
                CHECK(g.call(SYS_close, 3) == -EBADF);
                CHECK(g.call(SYS_read, 3, buf, 1) == -EBADF);
            }
        }
        WHEN("the file is written with writev and read with preadv") {
            REQUIRE(g.open_file("v.txt", O_CREAT | O_RDWR) == 3);
            const uint64_t iov = g.alloc(32);
            const uint64_t p1 = g.put("abc"), p2 = g.put("defg");
            REQUIRE(g.mem.write<uint64_t>(iov, p1));
            REQUIRE(g.mem.write<uint64_t>(iov + 8, 3));
            REQUIRE(g.mem.write<uint64_t>(iov + 16, p2));
            REQUIRE(g.mem.write<uint64_t>(iov + 24, 4));
            const int64_t w = g.call(SYS_writev, 3, iov, 2);
            const uint64_t b = g.alloc(8);
            REQUIRE(g.mem.write<uint64_t>(iov + 16, b));
            REQUIRE(g.mem.write<uint64_t>(iov + 24, 7));
            const int64_t r = g.call(SYS_preadv, 3, iov + 16, 1, 0, 0);
            THEN("the data is gathered and scattered") {
                CHECK(w == 7);
                CHECK(r == 7);
                CHECK(g.get(b, 7) == "abcdefg");
            }
        }
        WHEN("a path or buffer lies outside the guest window") {
            REQUIRE(g.open_file("b.txt", O_CREAT | O_RDWR) == 3);
            THEN("the call is EFAULT") {
                CHECK(g.call(SYS_open, kLo - 8, O_RDONLY) == -EFAULT);
                CHECK(g.call(SYS_read, 3, kRamSize - 4, 8) == -EFAULT);
                CHECK(g.call(SYS_write, 3, kLo, ~0ull) == -EFAULT);
                CHECK(g.call(SYS_fstat, 3, 0x100) == -EFAULT);
                CHECK(g.call(SYS_read, 3, 0x100, 0) == 0);  // zero length: no fault
            }
        }
        WHEN("a file is renamed, stat'ed, unlinked, and a directory made and removed") {
            REQUIRE(g.open_file("c", O_CREAT | O_WRONLY) == 3);
            const int64_t rn = g.call(SYS_rename, g.put(g.dir + "/c"), g.put(g.dir + "/d"));
            const uint64_t st = g.alloc(sizeof(struct stat));
            const int64_t s_old = g.call(SYS_stat, g.put(g.dir + "/c"), st);
            const int64_t s_new = g.call(SYS_stat, g.put(g.dir + "/d"), st);
            const int64_t md = g.call(SYS_mkdirat, Guest::fd_arg(AT_FDCWD), g.put(g.dir + "/sub"), 0700);
            THEN("each step has the host's effect") {
                CHECK(rn == 0);
                CHECK(s_old == -ENOENT);
                CHECK(s_new == 0);
                CHECK(md == 0);
                CHECK(std::filesystem::is_directory(g.dir + "/sub"));
                CHECK(g.call(SYS_unlink, g.put(g.dir + "/d")) == 0);
                CHECK(g.call(SYS_rmdir, g.put(g.dir + "/sub")) == 0);
                CHECK_FALSE(std::filesystem::exists(g.dir + "/d"));
            }
        }
    }
}

SCENARIO("the guest cannot reach host fds it was not given") {
    GIVEN("host fds 3..5 open in the VMM but not in the guest table") {
        Guest g;
        std::vector<int> vmm_fds;
        while (vmm_fds.empty() || vmm_fds.back() < 5) vmm_fds.push_back(::open("/dev/null", O_WRONLY | O_CLOEXEC));
        const uint64_t msg = g.put("x");
        THEN("write(5), close(5), dup(5) and fstat(5) are EBADF and host fd 5 survives") {
            CHECK(g.call(SYS_write, 5, msg, 1) == -EBADF);
            CHECK(g.call(SYS_close, 5) == -EBADF);
            CHECK(g.call(SYS_dup, 5) == -EBADF);
            CHECK(g.call(SYS_fstat, 5, g.alloc(256)) == -EBADF);
            CHECK(::fcntl(5, F_GETFD) != -1);
        }
        THEN("/proc/self/fd/5 is not reachable either") {
            CHECK(g.call(SYS_open, g.put("/proc/self/fd/5"), O_WRONLY) == -ENOENT);
        }
        for (int fd : vmm_fds) ::close(fd);
    }
}

SCENARIO("pipes and poll") {
    GIVEN("a guest") {
        Guest g;
        WHEN("pipe2(O_CLOEXEC) is created and data written through it") {
            const uint64_t fds = g.alloc(8);
            REQUIRE(g.call(SYS_pipe2, fds, O_CLOEXEC) == 0);
            const int rd = g.i32(fds), wr = g.i32(fds + 4);
            const int64_t w = g.call(SYS_write, static_cast<uint64_t>(wr), g.put("ping"), 4);
            const uint64_t n = g.alloc(4);
            const int64_t fr = g.call(SYS_ioctl, static_cast<uint64_t>(rd), FIONREAD, n);
            const uint64_t buf = g.alloc(8);
            const int64_t r = g.call(SYS_read, static_cast<uint64_t>(rd), buf, 8);
            THEN("the guest gets fds 3 and 4 with close-on-exec and the bytes arrive") {
                CHECK(rd == 3);
                CHECK(wr == 4);
                CHECK(g.call(SYS_fcntl, 3, F_GETFD) == FD_CLOEXEC);
                CHECK(w == 4);
                CHECK(fr == 0);
                CHECK(g.i32(n) == 4);
                CHECK(r == 4);
                CHECK(g.get(buf, 4) == "ping");
                CHECK(g.call(SYS_ioctl, 3, 0x1234, buf) == -ENOTTY);
            }
        }
        WHEN("pipe's fd array is outside the window") {
            const size_t before = g.fds.open_count();
            THEN("EFAULT and no fd leaks into the table") {
                CHECK(g.call(SYS_pipe, kRamSize - 4) == -EFAULT);
                CHECK(g.fds.open_count() == before);
            }
        }
        WHEN("poll watches a readable pipe and an fd the guest does not have") {
            const uint64_t fds = g.alloc(8);
            REQUIRE(g.call(SYS_pipe, fds) == 0);
            REQUIRE(g.call(SYS_write, 4, g.put("z"), 1) == 1);
            const uint64_t pfd = g.alloc(3 * sizeof(pollfd));
            const pollfd in[3] = {{3, POLLIN, 0}, {40, POLLIN, 0}, {-1, POLLIN, 0}};
            std::memcpy(g.ram.data() + pfd, in, sizeof(in));
            const int64_t r = g.call(SYS_poll, pfd, 3, Guest::fd_arg(-1));  // would block forever
            pollfd out[3];
            std::memcpy(out, g.ram.data() + pfd, sizeof(out));
            THEN("the pipe is readable, the unknown fd is POLLNVAL, and nothing blocks") {
                CHECK(r == 2);
                CHECK((out[0].revents & POLLIN) != 0);
                CHECK(out[1].revents == POLLNVAL);
                CHECK(out[2].revents == 0);
                CHECK(out[1].fd == 40);  // the guest's array keeps guest fd numbers
            }
        }
    }
}

SCENARIO("dup, dup2, dup3 and F_DUPFD") {
    GIVEN("a guest with a file open at fd 3") {
        Guest g;
        REQUIRE(g.open_file("f", O_CREAT | O_RDWR) == 3);
        WHEN("dup2(3, 7) and write through 7") {
            const int64_t d = g.call(SYS_dup2, 3, 7);
            const int64_t w = g.call(SYS_write, 7, g.put("via7"), 4);
            const int64_t off = g.call(SYS_lseek, 3, 0, SEEK_CUR);
            THEN("7 shares the open file description with 3") {
                CHECK(d == 7);
                CHECK(w == 4);
                CHECK(off == 4);
                CHECK(g.call(SYS_fcntl, 7, F_GETFD) == 0);
            }
        }
        WHEN("dup2 targets an open fd") {
            REQUIRE(g.open_file("other", O_CREAT | O_RDWR) == 4);
            const int old_host = g.fds.translate(4);
            const int64_t d = g.call(SYS_dup2, 3, 4);
            THEN("the previous file is closed and 4 now names file f") {
                CHECK(d == 4);
                CHECK(g.fds.translate(4) != old_host);
                REQUIRE(g.call(SYS_write, 4, g.put("Q"), 1) == 1);
                CHECK(std::filesystem::file_size(g.dir + "/f") == 1);
                CHECK(std::filesystem::file_size(g.dir + "/other") == 0);
            }
        }
        WHEN("dup2 and dup3 are called with equal fds or bad arguments") {
            THEN("dup2 returns the fd, dup3 is EINVAL, bad fds are EBADF") {
                CHECK(g.call(SYS_dup2, 3, 3) == 3);
                CHECK(g.call(SYS_dup2, 9, 9) == -EBADF);
                CHECK(g.call(SYS_dup3, 3, 3, 0) == -EINVAL);
                CHECK(g.call(SYS_dup3, 3, 5, O_NONBLOCK) == -EINVAL);
                CHECK(g.call(SYS_dup2, 3, 5000) == -EBADF);
                CHECK(g.call(SYS_dup2, 8, 5) == -EBADF);
            }
        }
        WHEN("dup3 with O_CLOEXEC, dup, and F_DUPFD_CLOEXEC from 20") {
            const int64_t d3 = g.call(SYS_dup3, 3, 9, O_CLOEXEC);
            const int64_t d = g.call(SYS_dup, 3);
            const int64_t f = g.call(SYS_fcntl, 3, F_DUPFD_CLOEXEC, 20);
            THEN("the table records the requested fds and flags") {
                CHECK(d3 == 9);
                CHECK(g.call(SYS_fcntl, 9, F_GETFD) == FD_CLOEXEC);
                CHECK(d == 4);
                CHECK(g.call(SYS_fcntl, 4, F_GETFD) == 0);
                CHECK(f == 20);
                CHECK(g.call(SYS_fcntl, 20, F_GETFD) == FD_CLOEXEC);
                CHECK(g.call(SYS_fcntl, 20, F_SETFD, 0) == 0);
                CHECK(g.call(SYS_fcntl, 20, F_GETFD) == 0);
                CHECK(g.call(SYS_fcntl, 3, F_DUPFD, 1 << 20) == -EINVAL);
                CHECK(g.call(SYS_fcntl, 3, 9999, 1) == -EINVAL);  // no such command
                // Signal-driven I/O's owner is a host pid (guest pid == host pid).
                CHECK(g.call(SYS_fcntl, 3, F_SETOWN, ::getpid()) == 0);
                CHECK(g.call(SYS_fcntl, 3, F_GETOWN) == ::getpid());
            }
        }
    }
}

SCENARIO("directories, links and /proc/self paths") {
    GIVEN("a guest with two files in its temp dir") {
        Guest g;
        REQUIRE(g.open_file("one", O_CREAT | O_RDWR) == 3);
        REQUIRE(g.open_file("two", O_CREAT | O_RDWR) == 4);
        WHEN("the directory is opened and read with getdents64") {
            const int64_t d = g.call(SYS_open, g.put(g.dir), O_RDONLY | O_DIRECTORY);
            const uint64_t buf = g.alloc(4096);
            const int64_t n = g.call(SYS_getdents64, static_cast<uint64_t>(d), buf, 4096);
            std::vector<std::string> names;
            for (int64_t off = 0; off < n;) {
                const auto* e = reinterpret_cast<const dirent64*>(g.ram.data() + buf + static_cast<uint64_t>(off));
                names.emplace_back(e->d_name);
                off += e->d_reclen;
            }
            THEN("both files are listed") {
                CHECK(d == 5);
                CHECK(n > 0);
                CHECK(std::find(names.begin(), names.end(), "one") != names.end());
                CHECK(std::find(names.begin(), names.end(), "two") != names.end());
            }
        }
        WHEN("a relative path is resolved against a directory fd with *at calls") {
            const int64_t d = g.call(SYS_open, g.put(g.dir), O_RDONLY | O_DIRECTORY);
            const int64_t l = g.call(SYS_symlinkat, g.put("one"), static_cast<uint64_t>(d), g.put("lnk"));
            const uint64_t buf = g.alloc(64);
            const int64_t r = g.call(SYS_readlinkat, static_cast<uint64_t>(d), g.put("lnk"), buf, 64);
            const int64_t st = g.call(SYS_newfstatat, static_cast<uint64_t>(d), g.put("two"), g.alloc(144), 0);
            THEN("they act inside that directory; a bad dirfd is EBADF") {
                CHECK(l == 0);
                CHECK(r == 3);
                CHECK(g.get(buf, 3) == "one");
                CHECK(st == 0);
                CHECK(g.call(SYS_newfstatat, 30, g.put("two"), g.alloc(144), 0) == -EBADF);
                // An absolute path ignores the dirfd, as in Linux.
                CHECK(g.call(SYS_newfstatat, 30, g.put(g.dir + "/two"), g.alloc(144), 0) == 0);
            }
        }
        WHEN("readlink names /proc/self/fd/4 and /proc/self/exe") {
            g.ctx.guest_exe = "/opt/guest/prog";
            const uint64_t buf = g.alloc(256);
            const int64_t n = g.call(SYS_readlink, g.put("/proc/self/fd/4"), buf, 256);
            const uint64_t ebuf = g.alloc(64);
            const int64_t e = g.call(SYS_readlink, g.put("/proc/self/exe"), ebuf, 64);
            THEN("the guest fd number is translated and exe is the guest program") {
                REQUIRE(n > 0);
                CHECK(g.get(buf, static_cast<size_t>(n)) == g.dir + "/two");
                CHECK(e == 15);
                CHECK(g.get(ebuf, 15) == "/opt/guest/prog");
                CHECK(g.call(SYS_readlink, g.put("/proc/self/fd/44"), buf, 256) == -ENOENT);
                CHECK(g.call(SYS_readlink, g.put("/proc/self/fd/44/x"), buf, 256) == -ENOENT);
            }
        }
        WHEN("a file is opened through /proc/self/fd/<guest dir fd>/name") {
            const int64_t d = g.call(SYS_open, g.put(g.dir), O_RDONLY | O_DIRECTORY);
            REQUIRE(d == 5);
            const int64_t f = g.call(SYS_open, g.put("/proc/self/fd/5/two"), O_WRONLY);
            THEN("the directory component is the guest's fd 5") {
                CHECK(f == 6);
                CHECK(g.call(SYS_write, 6, g.put("2"), 1) == 1);
                CHECK(std::filesystem::file_size(g.dir + "/two") == 1);
            }
        }
        WHEN("getcwd follows chdir") {
            const std::string old = std::filesystem::current_path();
            const int64_t c = g.call(SYS_chdir, g.put(g.dir));
            const uint64_t buf = g.alloc(4096);
            const int64_t n = g.call(SYS_getcwd, buf, 4096);
            const int64_t small = g.call(SYS_getcwd, buf, 2);
            std::filesystem::current_path(old);
            THEN("the guest sees the new cwd") {
                CHECK(c == 0);
                CHECK(n == static_cast<int64_t>(g.dir.size() + 1));
                CHECK(g.get(buf, g.dir.size()) == g.dir);
                CHECK(small == -ERANGE);
            }
        }
    }
}

SCENARIO("time, randomness and ids") {
    GIVEN("a guest") {
        Guest g;
        WHEN("getrandom fills 64 zeroed guest bytes") {
            const uint64_t buf = g.alloc(64);
            const int64_t r = g.call(SYS_getrandom, buf, 64, 0);
            bool all_zero = true;
            for (int i = 0; i < 64; ++i) all_zero = all_zero && g.ram[buf + static_cast<uint64_t>(i)] == 0;
            THEN("all 64 bytes were written (all-zero has probability 2^-512)") {
                CHECK(r == 64);
                CHECK_FALSE(all_zero);
                CHECK(g.call(SYS_getrandom, kRamSize - 8, 64, 0) == -EFAULT);
            }
        }
        WHEN("clock_gettime(CLOCK_MONOTONIC) is called twice") {
            const uint64_t t = g.alloc(16);
            REQUIRE(g.call(SYS_clock_gettime, CLOCK_MONOTONIC, t) == 0);
            auto a = g.mem.read<timespec>(t);
            REQUIRE(g.call(SYS_clock_gettime, CLOCK_MONOTONIC, t) == 0);
            auto b = g.mem.read<timespec>(t);
            THEN("time does not go backwards; CPU clocks are the host's, unknown threads and fds and bad pointers refused") {
                REQUIRE(a.has_value());
                REQUIRE(b.has_value());
                CHECK((b->tv_sec > a->tv_sec || (b->tv_sec == a->tv_sec && b->tv_nsec >= a->tv_nsec)));
                // ((~pid) << 3) | CPUCLOCK_SCHED with pid 0: this process's CPU clock.
                CHECK(g.call(SYS_clock_gettime, Guest::fd_arg(-6), t) == 0);
                // A thread's clock (bit 2) of a tid this harness does not know,
                // and CLOCKFD (type 3) of a guest fd not open.
                CHECK(g.call(SYS_clock_gettime, Guest::fd_arg(static_cast<int>((~12345u << 3) | 6u)), t) == -EINVAL);
                CHECK(g.call(SYS_clock_gettime, Guest::fd_arg(static_cast<int>((~100u << 3) | 3u)), t) == -EINVAL);
                CHECK(g.call(SYS_clock_gettime, CLOCK_MONOTONIC, 8) == -EFAULT);
            }
        }
        THEN("uid calls return the host ids") {
            CHECK(g.call(SYS_getuid) == static_cast<int64_t>(::getuid()));
            CHECK(g.call(SYS_getegid) == static_cast<int64_t>(::getegid()));
            CHECK(g.call(SYS_time, 0) > 1'600'000'000);
        }
    }
}

SCENARIO("the CPU list files report the guest's CPUs") {
    GIVEN("a guest with 4 vCPUs") {
        Guest g;
        WHEN("/sys/devices/system/cpu/online and .../possible are read") {
            const int64_t on = g.call(SYS_openat, Guest::fd_arg(AT_FDCWD), g.put("/sys/devices/system/cpu/online"),
                                      O_RDONLY | O_CLOEXEC);
            const int64_t po = g.call(SYS_open, g.put("/sys/devices/system/cpu/possible"), O_RDONLY);
            const uint64_t b1 = g.alloc(32), b2 = g.alloc(32);
            const int64_t n1 = g.call(SYS_read, static_cast<uint64_t>(on), b1, 32);
            const int64_t n2 = g.call(SYS_read, static_cast<uint64_t>(po), b2, 32);
            THEN("both read \"0-3\\n\" and cannot be written") {
                CHECK(n1 == 4);
                CHECK(g.get(b1, 4) == "0-3\n");
                CHECK(n2 == 4);
                CHECK(g.get(b2, 4) == "0-3\n");
                CHECK(g.call(SYS_fcntl, static_cast<uint64_t>(on), F_GETFD) == FD_CLOEXEC);
                CHECK(g.call(SYS_write, static_cast<uint64_t>(on), b1, 1) == -EPERM);
            }
        }
        WHEN("the guest has a single CPU") {
            g.ctx.guest_cpus = 1;
            const int64_t on = g.call(SYS_open, g.put("/sys/devices/system/cpu/online"), O_RDONLY);
            const uint64_t b = g.alloc(8);
            THEN("the text is \"0\\n\", as Linux prints it") {
                CHECK(g.call(SYS_read, static_cast<uint64_t>(on), b, 8) == 2);
                CHECK(g.get(b, 2) == "0\n");
                CHECK(cpu_range_text(64) == "0-63\n");
            }
        }
    }
}

SCENARIO("event fds, epoll, memfd, locks and in-kernel copies") {
    GIVEN("a guest") {
        Guest g;
        WHEN("an eventfd is signalled and watched through epoll") {
            const int64_t efd = g.call(SYS_eventfd2, 0, EFD_CLOEXEC | EFD_NONBLOCK);
            const int64_t ep = g.call(SYS_epoll_create1, 0);
            const uint64_t ev = g.alloc(sizeof(epoll_event));
            const epoll_event in{EPOLLIN, {.u64 = 0xfeedull}};
            std::memcpy(g.ram.data() + ev, &in, sizeof(in));
            const int64_t ctl = g.call(SYS_epoll_ctl, static_cast<uint64_t>(ep), EPOLL_CTL_ADD,
                                       static_cast<uint64_t>(efd), ev);
            const uint64_t one = g.alloc(8);
            REQUIRE(g.mem.write<uint64_t>(one, 1));
            REQUIRE(g.call(SYS_write, static_cast<uint64_t>(efd), one, 8) == 8);
            const uint64_t out = g.alloc(4 * sizeof(epoll_event));
            const int64_t n = g.call(SYS_epoll_wait, static_cast<uint64_t>(ep), out, 4, 1000);
            epoll_event got;
            std::memcpy(&got, g.ram.data() + out, sizeof(got));
            const uint64_t got_data = got.data.u64;
            const uint32_t got_events = got.events;
            THEN("epoll reports the guest's own data for its guest fd") {
                CHECK(efd == 3);
                CHECK(ep == 4);
                CHECK(g.call(SYS_fcntl, 3, F_GETFD) == FD_CLOEXEC);
                CHECK(g.call(SYS_fcntl, 4, F_GETFD) == 0);
                CHECK(ctl == 0);
                CHECK(n == 1);
                CHECK(got_data == 0xfeedull);
                CHECK((got_events & EPOLLIN) != 0);
                CHECK(g.call(SYS_epoll_ctl, 4, EPOLL_CTL_ADD, 77, ev) == -EBADF);
                CHECK(g.call(SYS_epoll_wait, 4, out, 0, 0) == -EINVAL);
            }
        }
        WHEN("memfd_create gets a good and an over-long name") {
            const int64_t m = g.call(SYS_memfd_create, g.put("guest-mem"), MFD_CLOEXEC);
            const int64_t bad = g.call(SYS_memfd_create, g.put(std::string(300, 'n')), 0);
            THEN("the first is installed and the second is EINVAL") {
                CHECK(m == 3);
                CHECK(g.call(SYS_ftruncate, 3, 8192) == 0);
                const uint64_t st = g.alloc(sizeof(struct stat));
                REQUIRE(g.call(SYS_fstat, 3, st) == 0);
                struct stat s;
                std::memcpy(&s, g.ram.data() + st, sizeof(s));
                CHECK(s.st_size == 8192);
                CHECK(bad == -EINVAL);
            }
        }
        WHEN("a record lock is taken with F_SETLK and queried with F_GETLK") {
            REQUIRE(g.open_file("lk", O_CREAT | O_RDWR) == 3);
            const uint64_t fl = g.alloc(sizeof(struct flock));
            struct flock lk{};
            lk.l_type = F_WRLCK;
            lk.l_whence = SEEK_SET;
            lk.l_len = 10;
            std::memcpy(g.ram.data() + fl, &lk, sizeof(lk));
            const int64_t set = g.call(SYS_fcntl, 3, F_SETLK, fl);
            THEN("the lock is taken; a bad struct pointer is EFAULT") {
                CHECK(set == 0);
                CHECK(g.call(SYS_fcntl, 3, F_GETLK, fl) == 0);
                CHECK(g.call(SYS_fcntl, 3, F_SETLK, kRamSize - 4) == -EFAULT);
                CHECK(g.call(SYS_flock, 3, LOCK_EX | LOCK_NB) == 0);
            }
        }
        WHEN("data is copied file to file with copy_file_range and sendfile") {
            REQUIRE(g.open_file("src", O_CREAT | O_RDWR) == 3);
            REQUIRE(g.open_file("dst", O_CREAT | O_RDWR) == 4);
            REQUIRE(g.call(SYS_write, 3, g.put("0123456789"), 10) == 10);
            const uint64_t off_in = g.alloc(8);
            REQUIRE(g.mem.write<int64_t>(off_in, 2));
            const int64_t c = g.call(SYS_copy_file_range, 3, off_in, 4, 0, 5, 0);
            const uint64_t off = g.alloc(8);
            REQUIRE(g.mem.write<int64_t>(off, 0));
            const int64_t sf = g.call(SYS_sendfile, 4, 3, off, 3);
            THEN("the destination holds the copied ranges and offsets advanced in guest memory") {
                CHECK(c == 5);
                CHECK(*g.mem.read<int64_t>(off_in) == 7);
                CHECK(sf == 3);
                CHECK(*g.mem.read<int64_t>(off) == 3);
                const uint64_t buf = g.alloc(16);
                CHECK(g.call(SYS_pread64, 4, buf, 16, 0) == 8);
                CHECK(g.get(buf, 8) == "23456012");
                CHECK(g.call(SYS_sendfile, 4, 3, 0x10, 3) == -EFAULT);
            }
        }
    }
}

SCENARIO("syscalls that are not host syscalls are left to other tables") {
    GIVEN("a guest") {
        Guest g;
        THEN("process-level syscalls are ENOSYS here") {
            CHECK(g.call(SYS_mmap, 0, 4096, 3, 0x22, Guest::fd_arg(-1), 0) == -ENOSYS);
            CHECK(g.call(SYS_getpid) == -ENOSYS);
            CHECK(g.call(100000) == -ENOSYS);
            CHECK_FALSE(is_host_syscall(SYS_clone));
            CHECK_FALSE(is_host_syscall(SYS_futex));
            CHECK(is_host_syscall(SYS_read));
            CHECK(is_host_syscall(SYS_statx));
        }
    }
}

SCENARIO("syscall names come from the generated x86-64 table") {
    THEN("known numbers have their names and unknown ones say so") {
        CHECK(syscall_name(0) == "read");
        CHECK(syscall_name(SYS_openat) == "openat");
        CHECK(syscall_name(SYS_exit_group) == "exit_group");
        CHECK(syscall_name(335) == kUnknownSyscall);
        CHECK(syscall_name(~0ull) == kUnknownSyscall);
        CHECK(syscall_number("futex") == SYS_futex);
        CHECK_FALSE(syscall_number("no_such_call").has_value());
    }
}
