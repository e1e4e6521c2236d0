#include <doctest/doctest.h>

#include <sys/syscall.h>
#include <unistd.h>

#include "tests/unit/fake_guest.hpp"
#include "vmm/process/syscalls/host_syscalls.hpp"
#include "vmm/process/syscalls/passthrough_syscalls.hpp"

using namespace spanvm::process;

namespace {
bool bit(const std::array<uint64_t, 2>& m, uint64_t nr) { return nr < 128 && ((m[nr / 64] >> (nr % 64)) & 1); }
}  // namespace

SCENARIO("pass-through syscalls: the set and its bitmap") {
    GIVEN("the documented set") {
        THEN("it holds the identity reads and sched_yield, nothing with spanvm state or pointers") {
            for (long nr : {SYS_getppid, SYS_getpgrp, SYS_getuid, SYS_geteuid, SYS_getgid, SYS_getegid, SYS_sched_yield})
                CHECK(is_passthrough_syscall(static_cast<uint64_t>(nr)));
            // Virtual ids, pointers, state changes, blocking calls: never.
            for (long nr : {SYS_getpid, SYS_gettid, SYS_umask, SYS_getresuid, SYS_getresgid, SYS_getcpu, SYS_read,
                            SYS_write, SYS_nanosleep, SYS_futex, SYS_setuid, SYS_getpgid, SYS_getsid, SYS_exit})
                CHECK_FALSE(is_passthrough_syscall(static_cast<uint64_t>(nr)));
            CHECK_FALSE(is_passthrough_syscall(SYS_getppid + (uint64_t{1} << 32)));
            CHECK_FALSE(is_passthrough_syscall(~uint64_t{0}));
        }
    }
    WHEN("the mask is built for a thread at the origin") {
        const auto m = passthrough_mask(true);
        THEN("exactly the set's bits are set") {
            unsigned n = 0;
            for (uint64_t nr = 0; nr < 128; ++nr) {
                CHECK(bit(m, nr) == is_passthrough_syscall(nr));
                n += bit(m, nr);
            }
            CHECK(n == kPassthroughSyscalls.size());
            CHECK(bit(m, SYS_getppid));
            CHECK_FALSE(bit(m, SYS_getpid));
        }
    }
    WHEN("the mask is built for a thread whose calls are forwarded") {
        THEN("it is empty") {
            const auto m = passthrough_mask(false);
            CHECK(m[0] == 0);
            CHECK(m[1] == 0);
        }
    }
}

SCENARIO("pass-through calls of the host table are exactly the host call") {
    GIVEN("a guest") {
        testing::FakeGuest g(1, FdTable::kDefaultLimit, true, "passthrough");
        THEN("getuid, geteuid, getgid, getegid return the host thread's ids, whatever the argument registers") {
            const SyscallArgs junk = {0xdead, 0xbeef, 1, 2, 3, 4};
            CHECK(host_syscall(g.ctx, SYS_getuid, junk) == static_cast<int64_t>(::getuid()));
            CHECK(host_syscall(g.ctx, SYS_geteuid, junk) == static_cast<int64_t>(::geteuid()));
            CHECK(host_syscall(g.ctx, SYS_getgid, junk) == static_cast<int64_t>(::getgid()));
            CHECK(host_syscall(g.ctx, SYS_getegid, junk) == static_cast<int64_t>(::getegid()));
        }
        THEN("the process-table ones are not host-table calls (their handlers are ::getppid, ::getpgrp, ::sched_yield)") {
            CHECK_FALSE(is_host_syscall(SYS_getppid));
            CHECK_FALSE(is_host_syscall(SYS_getpgrp));
            CHECK_FALSE(is_host_syscall(SYS_sched_yield));
        }
    }
}
