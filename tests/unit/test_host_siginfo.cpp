#include <doctest/doctest.h>

#include <signal.h>

#include <cstring>

#include "vmm/process/signals/host_siginfo.hpp"

using spanvm::process::guest_siginfo;
using spanvm::process::pack_stop;

namespace {
siginfo_t chld(int code, pid_t pid, int status) {
    siginfo_t si;
    std::memset(&si, 0, sizeof si);
    si.si_signo = SIGCHLD;
    si.si_code = code;
    si.si_pid = pid;
    si.si_uid = 1000;
    si.si_status = status;
    si.si_utime = 7;
    si.si_stime = 3;
    return si;
}
}  // namespace

TEST_CASE("host_siginfo: a child's SIGCHLD keeps the kernel's fields") {
    const auto f = guest_siginfo(SIGCHLD, chld(CLD_EXITED, 4242, 42), 0);
    CHECK(f.child);
    CHECK(f.code == CLD_EXITED);
    CHECK(f.pid == 4242);
    CHECK(f.uid == 1000);
    CHECK(f.status == 42);
    CHECK(f.utime == 7);
    CHECK(f.stime == 3);
    const auto s = guest_siginfo(SIGCHLD, chld(CLD_STOPPED, 4242, SIGTSTP), pack_stop(4242, SIGSTOP));
    CHECK(s.status == SIGTSTP);  // the kernel's own value wins where it has one
}

TEST_CASE("host_siginfo: a CLD_STOPPED si_status 0 (Linux's race with a wait) is the stop the wait reported") {
    CHECK(guest_siginfo(SIGCHLD, chld(CLD_STOPPED, 4242, 0), pack_stop(4242, SIGSTOP)).status == SIGSTOP);
    CHECK(guest_siginfo(SIGCHLD, chld(CLD_STOPPED, 4242, 0), pack_stop(4242, SIGTTOU)).status == SIGTTOU);
    // Another child's stop, or none reported: left as the kernel gave it.
    CHECK(guest_siginfo(SIGCHLD, chld(CLD_STOPPED, 4242, 0), pack_stop(4243, SIGSTOP)).status == 0);
    CHECK(guest_siginfo(SIGCHLD, chld(CLD_STOPPED, 4242, 0), 0).status == 0);
    // Only a stop: an exit with code 0 stays 0.
    CHECK(guest_siginfo(SIGCHLD, chld(CLD_EXITED, 4242, 0), pack_stop(4242, SIGSTOP)).status == 0);
    // pids up to pid_max (4194304) fit.
    CHECK(guest_siginfo(SIGCHLD, chld(CLD_STOPPED, 4194303, 0), pack_stop(4194303, SIGSTOP)).status == SIGSTOP);
}

TEST_CASE("host_siginfo: kill, sigqueue and SIGIO") {
    siginfo_t si;
    std::memset(&si, 0, sizeof si);
    si.si_code = SI_QUEUE;
    si.si_pid = 10;
    si.si_uid = 20;
    si.si_value.sival_ptr = reinterpret_cast<void*>(0x1234);
    auto f = guest_siginfo(SIGUSR1, si, 0);
    CHECK(f.pid == 10);
    CHECK(f.value == 0x1234);
    CHECK_FALSE(f.child);
    si.si_code = SI_TKILL;
    CHECK(guest_siginfo(SIGUSR1, si, 0).value == 0);
    si.si_code = POLL_IN;  // SIGIO's band and fd share si_pid's bytes
    f = guest_siginfo(SIGIO, si, 0);
    CHECK(f.pid == 0);
    CHECK(f.uid == 0);
}
