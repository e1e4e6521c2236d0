#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

#include "vmm/process/syscalls/fd_table.hpp"

using spanvm::process::FdRef;
using spanvm::process::FdTable;

namespace {

bool host_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }
int host_devnull() { return ::open("/dev/null", O_RDONLY | O_CLOEXEC); }

}  // namespace

SCENARIO("a fresh fd table maps only the guest's stdio") {
    GIVEN("a default table") {
        FdTable t;
        THEN("guest 0/1/2 are host 0/1/2 and nothing else is reachable") {
            CHECK(t.translate(0) == 0);
            CHECK(t.translate(1) == 1);
            CHECK(t.translate(2) == 2);
            CHECK(t.translate(3) == -EBADF);
            CHECK(t.translate(-1) == -EBADF);
            CHECK(t.open_count() == 3);
            CHECK(t.limit() == FdTable::kDefaultLimit);
        }
        THEN("AT_FDCWD passes through unchanged") { CHECK(t.translate(AT_FDCWD) == AT_FDCWD); }
        WHEN("a host fd 5 exists that the guest never got") {
            std::vector<int> opened;
            while (opened.empty() || opened.back() < 5) opened.push_back(host_devnull());
            THEN("guest fd 5 is still EBADF and closing it leaves the host fd alone") {
                CHECK(t.translate(5) == -EBADF);
                CHECK(t.close(5) == -EBADF);
                CHECK(host_open(5));
            }
            for (int fd : opened) ::close(fd);
        }
        WHEN("the guest closes its stdout") {
            REQUIRE(t.close(1) == 0);
            THEN("the mapping is gone but the VMM's host fd 1 stays open") {
                CHECK(t.translate(1) == -EBADF);
                CHECK(host_open(1));
            }
        }
    }
}

SCENARIO("installing host fds allocates the lowest free guest fd") {
    GIVEN("a table with stdio") {
        FdTable t;
        WHEN("two fds are installed, the first closed and a third installed") {
            const int h1 = host_devnull(), h2 = host_devnull(), h3 = host_devnull();
            const int g1 = t.install(h1, false);
            const int g2 = t.install(h2, true);
            REQUIRE(t.close(g1) == 0);
            const int g3 = t.install(h3, false);
            THEN("guest fds are 3, 4, then 3 again and translate to their host fds") {
                CHECK(g1 == 3);
                CHECK(g2 == 4);
                CHECK(g3 == 3);
                CHECK(t.translate(3) == h3);
                CHECK(t.translate(4) == h2);
                CHECK_FALSE(host_open(h1));  // the table owned and closed it
                CHECK(t.get_cloexec(4) == 1);
                CHECK(t.get_cloexec(3) == 0);
            }
        }
        WHEN("install_from asks for the lowest free fd >= 10") {
            const int g = t.install_from(10, host_devnull(), true);
            THEN("it gets 10, with close-on-exec") {
                CHECK(g == 10);
                CHECK(t.get_cloexec(10) == 1);
                CHECK(t.install_from(10, host_devnull(), false) == 11);
            }
        }
        WHEN("install_from gets a minimum at or above the limit") {
            const int h = host_devnull();
            THEN("EINVAL, and the host fd is closed") {
                CHECK(t.install_from(FdTable::kDefaultLimit, h, false) == -EINVAL);
                CHECK_FALSE(host_open(h));
            }
        }
    }
    GIVEN("a table with a limit of 4 fds") {
        FdTable t(4);
        WHEN("two fds are installed") {
            CHECK(t.install(host_devnull(), false) == 3);
            const int h = host_devnull();
            THEN("the second gets EMFILE and its host fd is closed") {
                CHECK(t.install(h, false) == -EMFILE);
                CHECK_FALSE(host_open(h));
            }
        }
        WHEN("the limit is raised") {
            REQUIRE(t.set_limit(8) == 0);
            THEN("more fds fit") {
                CHECK(t.install(host_devnull(), false) == 3);
                CHECK(t.install(host_devnull(), false) == 4);
                CHECK(t.set_limit(0) == -EINVAL);
            }
        }
    }
}

SCENARIO("install_at has dup2 semantics") {
    GIVEN("a table with guest fd 3 open") {
        FdTable t;
        const int h_old = host_devnull();
        REQUIRE(t.install(h_old, false) == 3);
        WHEN("a new host fd is installed at 3") {
            const int h_new = host_devnull();
            REQUIRE(t.install_at(3, h_new, true) == 3);
            THEN("3 now names the new host fd and the previous one is closed") {
                CHECK(t.translate(3) == h_new);
                CHECK_FALSE(host_open(h_old));
                CHECK(t.get_cloexec(3) == 1);
            }
        }
        WHEN("a host fd is installed at a free slot far above") {
            REQUIRE(t.install_at(100, host_devnull(), false) == 100);
            THEN("exactly that slot is used") {
                CHECK(t.is_open(100));
                CHECK_FALSE(t.is_open(99));
            }
        }
        WHEN("the slot is out of range") {
            const int h = host_devnull();
            THEN("EBADF and the host fd is closed") {
                CHECK(t.install_at(FdTable::kDefaultLimit, h, false) == -EBADF);
                CHECK_FALSE(host_open(h));
                CHECK(t.install_at(-1, host_devnull(), false) == -EBADF);
            }
        }
        WHEN("dup2 replaces the borrowed stdout") {
            REQUIRE(t.install_at(1, host_devnull(), false) == 1);
            THEN("the VMM's own stdout is not closed") {
                CHECK(t.translate(1) != 1);
                CHECK(host_open(1));
            }
        }
    }
}

SCENARIO("a pinned host fd outlives a racing guest close") {
    GIVEN("guest fd 3 acquired by an in-flight syscall") {
        FdTable t;
        const int h = host_devnull();
        REQUIRE(t.install(h, false) == 3);
        FdRef pin = t.acquire(3);
        REQUIRE(pin);
        WHEN("the guest closes fd 3") {
            REQUIRE(t.close(3) == 0);
            THEN("the host fd stays open until the pin is dropped") {
                CHECK(t.translate(3) == -EBADF);
                CHECK(host_open(h));
                pin.reset();
                CHECK_FALSE(host_open(h));
            }
        }
    }
}

SCENARIO("close-on-exec flags and close_range") {
    GIVEN("fds 3, 4, 5 with 4 marked close-on-exec") {
        FdTable t;
        for (int i = 0; i < 3; ++i) REQUIRE(t.install(host_devnull(), i == 1) == 3 + i);
        WHEN("the flag is changed and read back") {
            REQUIRE(t.set_cloexec(3, true) == 0);
            REQUIRE(t.set_cloexec(4, false) == 0);
            THEN("the new values are reported; closed fds are EBADF") {
                CHECK(t.get_cloexec(3) == 1);
                CHECK(t.get_cloexec(4) == 0);
                CHECK(t.get_cloexec(6) == -EBADF);
                CHECK(t.set_cloexec(6, true) == -EBADF);
            }
        }
        WHEN("an exec closes close-on-exec fds") {
            auto closed = t.close_on_exec();
            THEN("only fd 4 is closed") {
                CHECK(closed == std::vector<int>{4});
                CHECK(t.is_open(3));
                CHECK_FALSE(t.is_open(4));
                CHECK(t.is_open(5));
            }
        }
        WHEN("close_range(4, ~0) runs") {
            const int n = t.close_range(4, ~0u, false);
            THEN("4 and 5 are closed, 0..3 stay") {
                CHECK(n == 2);
                CHECK(t.open_count() == 4);
                CHECK_FALSE(t.is_open(5));
            }
        }
        WHEN("close_range(0, 3) only sets close-on-exec") {
            const int n = t.close_range(0, 3, true);
            THEN("all four are marked and still open") {
                CHECK(n == 4);
                CHECK(t.get_cloexec(0) == 1);
                CHECK(t.get_cloexec(3) == 1);
                CHECK(t.open_count() == 6);
            }
        }
    }
}

SCENARIO("the fd table is safe under concurrent install and close") {
    GIVEN("four threads each installing and closing 200 fds") {
        FdTable t;
        std::atomic<int> failures{0};
        std::vector<std::thread> threads;
        for (int i = 0; i < 4; ++i) {
            threads.emplace_back([&] {
                for (int k = 0; k < 200; ++k) {
                    const int h = host_devnull();
                    const int g = t.install(h, false);
                    if (g < 3 || t.translate(g) != h || t.close(g) != 0) failures.fetch_add(1);
                }
            });
        }
        for (auto& th : threads) th.join();
        THEN("every fd was distinct while held and the table ends as it began") {
            CHECK(failures.load() == 0);
            CHECK(t.open_count() == 3);
        }
    }
}
