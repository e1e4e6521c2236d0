// self_pid(): the cached pid is the kernel's, and a fork's child asks anew.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmm/base/self_pid.hpp"

using spanvm::self_pid;

TEST_CASE("self_pid is getpid, before and after a fork") {
    const pid_t parent = ::getpid();
    CHECK(self_pid() == parent);
    CHECK(self_pid() == parent);  // from the cache
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        // The parent's cached value came along in the copy; the fork handler
        // dropped it, so this is the child's own pid.
        const pid_t seen[2] = {self_pid(), ::getpid()};
        const bool ok = ::write(fds[1], seen, sizeof seen) == static_cast<ssize_t>(sizeof seen);
        ::_exit(ok ? 0 : 1);
    }
    ::close(fds[1]);
    pid_t seen[2] = {0, 0};
    CHECK(::read(fds[0], seen, sizeof seen) == static_cast<ssize_t>(sizeof seen));
    ::close(fds[0]);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status));
    CHECK(seen[0] == child);
    CHECK(seen[1] == child);
    CHECK(seen[0] != parent);
    CHECK(self_pid() == parent);  // the parent's cache is untouched
}
