#include <doctest/doctest.h>

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstring>
#include <memory>

#include "vmm/process/signals/signal_fd.hpp"
#include "vmm/process/signals/signal_frame.hpp"

using spanvm::process::SignalFd;
using spanvm::process::SignalFdList;

namespace {
bool readable(int fd) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}
}  // namespace

TEST_CASE("a signalfd is notified for the signals of its mask only, and cleared without blocking") {
    const int efd = ::eventfd(0, EFD_CLOEXEC);  // blocking: clear() must still not block
    REQUIRE(efd >= 0);
    SignalFdList list;
    CHECK(list.empty());
    {
        auto s = std::make_shared<SignalFd>(::dup(efd), uint64_t{1} << (10 - 1));  // SIGUSR1
        list.add(s);
        CHECK(!list.empty());
        list.notify(12);  // SIGUSR2: not in the mask
        CHECK(!readable(efd));
        list.notify(10);
        list.notify(10);
        CHECK(readable(efd));
        s->clear();
        CHECK(!readable(efd));
        s->clear();  // nothing to take: returns at once
        s->set_mask(uint64_t{1} << (12 - 1));
        list.notify(12);
        CHECK(readable(efd));
        s->clear();
    }
    // The last guest fd closed: the list forgets it at the next notify.
    list.notify(12);
    CHECK(list.empty());
    CHECK(!readable(efd));
    ::close(efd);
}

TEST_CASE("signalfd records carry the signal, the sender and a fault's address") {
    spanvm::process::SigInfoFields user;
    user.code = 0;  // SI_USER
    user.pid = 1234;
    user.uid = 1000;
    auto b = spanvm::process::encode_signalfd_siginfo(10, user);
    uint32_t signo = 0, pid = 0, uid = 0;
    std::memcpy(&signo, b.data(), 4);
    std::memcpy(&pid, b.data() + 12, 4);
    std::memcpy(&uid, b.data() + 16, 4);
    CHECK(signo == 10);
    CHECK(pid == 1234);
    CHECK(uid == 1000);
    spanvm::process::SigInfoFields fault;
    fault.fault = true;
    fault.code = 1;
    fault.addr = 0xdead000;
    b = spanvm::process::encode_signalfd_siginfo(11, fault);
    uint64_t addr = 0;
    int32_t code = 0;
    std::memcpy(&addr, b.data() + 72, 8);
    std::memcpy(&code, b.data() + 8, 4);
    CHECK(addr == 0xdead000);
    CHECK(code == 1);
}

TEST_CASE("a child's SIGCHLD carries its status and CPU times, as siginfo_t and as a signalfd record") {
    spanvm::process::SigInfoFields child;
    child.code = CLD_EXITED;
    child.pid = 4242;
    child.uid = 1000;
    child.child = true;
    child.status = 42;
    child.utime = 7;
    child.stime = 3;
    siginfo_t si;
    const auto a = spanvm::process::encode_siginfo(SIGCHLD, child);
    static_assert(sizeof si == spanvm::process::kSiginfoSize);
    std::memcpy(&si, a.data(), sizeof si);
    CHECK(si.si_signo == SIGCHLD);
    CHECK(si.si_code == CLD_EXITED);
    CHECK(si.si_pid == 4242);
    CHECK(si.si_uid == 1000u);
    CHECK(si.si_status == 42);
    CHECK(si.si_utime == 7);
    CHECK(si.si_stime == 3);
    signalfd_siginfo r;
    const auto b = spanvm::process::encode_signalfd_siginfo(SIGCHLD, child);
    static_assert(sizeof r == spanvm::process::kSignalfdSiginfoSize);
    std::memcpy(&r, b.data(), sizeof r);
    CHECK(r.ssi_signo == static_cast<uint32_t>(SIGCHLD));
    CHECK(r.ssi_code == CLD_EXITED);
    CHECK(r.ssi_pid == 4242u);
    CHECK(r.ssi_status == 42);
    CHECK(r.ssi_utime == 7u);
    CHECK(r.ssi_stime == 3u);
}
