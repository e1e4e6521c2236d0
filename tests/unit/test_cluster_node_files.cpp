// The files a node keeps for a placed image's only thread
// (vmm/cluster/node_local_calls.hpp, "Node files"): which forwarded calls
// make it forget some or stop (fd_effect), which calls it plans for them,
// and the three message fields they need on the wire (Spawn's sole_thread,
// Trap's closed fds, Resume's opened file).
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sched.h>
#include <csignal>
#include <sys/syscall.h>
#include <unistd.h>

#include "vmm/cluster/cluster_messages.hpp"
#include "vmm/cluster/node_answers.hpp"

using namespace spanvm::cluster;
using spanvm::net::Bytes;

namespace {
FdEffect effect(long nr, std::uint64_t a0 = 0, std::uint64_t a1 = 0, std::uint64_t a2 = 0) {
    const std::uint64_t a[6] = {a0, a1, a2, 0, 0, 0};
    return fd_effect(nr, a);
}
LocalCallPlan plan(long nr, std::uint64_t a0 = 0, std::uint64_t a1 = 0, std::uint64_t a2 = 0, std::uint64_t a3 = 0) {
    const std::uint64_t a[6] = {a0, a1, a2, a3, 0, 0};
    return plan_local_call(nr, a, NodeAnswers::all);
}
using K = FdEffect::Kind;
}  // namespace

SCENARIO("a forwarded call that closes or replaces an fd makes the node forget it") {
    THEN("close, and the new fd of dup2 and dup3") {
        auto c = effect(SYS_close, 7);
        CHECK(c.kind == K::drop);
        CHECK(c.first == 7);
        auto d = effect(SYS_dup2, 3, 9);
        CHECK(d.kind == K::drop);
        CHECK(d.first == 9);
        CHECK(effect(SYS_dup3, 3, 10, O_CLOEXEC).first == 10);
    }
    THEN("close_range, a range (~0U as the last fd too)") {
        auto r = effect(SYS_close_range, 3, 0xFFFFFFFFu, 0);
        CHECK(r.kind == K::range);
        CHECK(r.first == 3);
        CHECK(r.last == 0xFFFFFFFFu);
    }
    THEN("calls that leave the table alone change nothing") {
        for (long nr : {SYS_read, SYS_mmap, SYS_dup, SYS_lseek, SYS_openat, SYS_write, SYS_brk})
            CHECK(effect(nr, 3, 4, 5).kind == K::none);
        CHECK(effect(SYS_fcntl, 3, F_GETFL).kind == K::none);
        CHECK(effect(SYS_fcntl, 3, F_SETFD, FD_CLOEXEC).kind == K::none);
        CHECK(effect(SYS_fcntl, 3, F_DUPFD_CLOEXEC, 10).kind == K::none);
    }
}

SCENARIO("what may let others change the table, or see a held-back close, ends node files") {
    THEN("a thread, a shared table, clone3, vfork, io_uring and execve") {
        CHECK(effect(SYS_clone, CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_THREAD | CLONE_SIGHAND).kind == K::end);
        CHECK(effect(SYS_clone, CLONE_FILES | SIGCHLD).kind == K::end);
        CHECK(effect(SYS_clone, CLONE_VM | CLONE_VFORK | SIGCHLD).kind == K::end);
        for (long nr : {SYS_clone3, SYS_vfork, SYS_io_uring_setup, SYS_io_uring_enter, SYS_io_uring_register,
                        SYS_execve, SYS_execveat})
            CHECK(effect(nr).kind == K::end);
    }
    THEN("fork's clone copies the table into a child at the origin: no effect here") {
        CHECK(effect(SYS_clone, CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD).kind == K::none);
        CHECK(effect(SYS_fork).kind == K::none);
    }
    THEN("record locks, flock, leases and dnotify (a close would release them)") {
        for (std::uint64_t cmd : {F_SETLK, F_SETLKW, F_OFD_SETLK, F_OFD_SETLKW, F_SETLEASE, F_NOTIFY})
            CHECK(effect(SYS_fcntl, 3, cmd).kind == K::end);
        CHECK(effect(SYS_flock, 3, 1).kind == K::end);
    }
}

SCENARIO("the node plans fstat and close of an fd, and the fd form of newfstatat and statx") {
    auto f = plan(SYS_fstat, 5, 0x2000);
    CHECK(f.kind == LocalCall::fstat);
    CHECK(f.fd == 5);
    CHECK(f.out_len == 144);
    CHECK(plan(SYS_fstat, 5, 0).kind == LocalCall::none);
    auto c = plan(SYS_close, 6);
    CHECK(c.kind == LocalCall::close);
    CHECK(c.fd == 6);
    auto n = plan(SYS_newfstatat, 5, 0x1000, 0x2000, AT_EMPTY_PATH);
    CHECK(n.kind == LocalCall::stat);
    CHECK(n.empty_path);
    CHECK(n.fd == 5);
    CHECK_FALSE(n.dirfd_cwd);
    CHECK_FALSE(plan(SYS_newfstatat, 5, 0x1000, 0x2000, 0).empty_path);
    const std::uint64_t a[6] = {5, 0x1000, AT_EMPTY_PATH, 0x7FF, 0x3000, 0};
    auto x = plan_local_call(SYS_statx, a, NodeAnswers::all);
    CHECK(x.kind == LocalCall::statx);
    CHECK(x.empty_path);
    CHECK(x.fd == 5);
    auto o = plan(SYS_openat, static_cast<std::uint32_t>(AT_FDCWD), 0x1000, O_RDONLY | O_CLOEXEC);
    CHECK(o.open_flags == (O_RDONLY | O_CLOEXEC));
    const std::uint64_t t[6] = {5, 0x2000, 0, 0, 0, 0};
    CHECK(plan_local_call(SYS_fstat, t, NodeAnswers::thread).kind == LocalCall::none);
}

SCENARIO("read and pread64 of an fd are planned; a call that may use its offset stops the node's") {
    THEN("reads up to kMaxLocalRead bytes") {
        auto r = plan(SYS_read, 4, 0x2000, 832);
        CHECK(r.kind == LocalCall::read);
        CHECK(r.fd == 4);
        CHECK(r.out == 0x2000);
        CHECK(r.out_len == 832);
        auto p = plan(SYS_pread64, 4, 0x2000, 784, 64);
        CHECK(p.kind == LocalCall::pread);
        CHECK(p.offset == 64);
        CHECK(plan(SYS_read, 4, 0x2000, kMaxLocalRead).kind == LocalCall::read);
    }
    THEN("lseek with SEEK_SET, SEEK_CUR or SEEK_END; SEEK_DATA, SEEK_HOLE and others go") {
        auto s = plan(SYS_lseek, 4, static_cast<std::uint64_t>(-2), SEEK_END);
        CHECK(s.kind == LocalCall::lseek);
        CHECK(s.fd == 4);
        CHECK(static_cast<std::int64_t>(s.offset) == -2);
        CHECK(s.mode == SEEK_END);
        CHECK(plan(SYS_lseek, 4, 0, SEEK_CUR).kind == LocalCall::lseek);
        CHECK(plan(SYS_lseek, 4, 0, SEEK_DATA).kind == LocalCall::none);
        CHECK(plan(SYS_lseek, 4, 0, SEEK_HOLE).kind == LocalCall::none);
        CHECK(plan(SYS_lseek, 4, 0, 5).kind == LocalCall::none);
    }
    THEN("no bytes, no buffer, too many or a negative offset go to the origin") {
        CHECK(plan(SYS_read, 4, 0x2000, 0).kind == LocalCall::none);
        CHECK(plan(SYS_read, 4, 0, 16).kind == LocalCall::none);
        CHECK(plan(SYS_read, 4, 0x2000, kMaxLocalRead + 1).kind == LocalCall::none);
        CHECK(plan(SYS_pread64, 4, 0x2000, 16, static_cast<std::uint64_t>(-1)).kind == LocalCall::none);
    }
    THEN("a forwarded call naming the fd (but mmap's), or sharing descriptions, uses its offset") {
        const std::uint64_t lseek[6] = {4, 0, SEEK_CUR, 0, 0, 0};
        CHECK(may_use_offset(SYS_lseek, lseek, 4));
        CHECK_FALSE(may_use_offset(SYS_lseek, lseek, 5));
        const std::uint64_t sendfile[6] = {1, 4, 0, 4096, 0, 0};
        CHECK(may_use_offset(SYS_sendfile, sendfile, 4));
        const std::uint64_t mmap[6] = {0, 4096, 1, 2, 4, 0};
        CHECK_FALSE(may_use_offset(SYS_mmap, mmap, 4));
        const std::uint64_t tcgets[6] = {4, 0x5401, 0x3000, 0, 0, 0};
        CHECK_FALSE(may_use_offset(SYS_ioctl, tcgets, 4));
        const std::uint64_t fstat_empty[6] = {4, 0x1000, 0x2000, AT_EMPTY_PATH, 0, 0};
        CHECK_FALSE(may_use_offset(SYS_newfstatat, fstat_empty, 4));
        const std::uint64_t getfl[6] = {4, F_GETFL, 0, 0, 0, 0};
        CHECK_FALSE(may_use_offset(SYS_fcntl, getfl, 4));
        const std::uint64_t dupfd[6] = {4, F_DUPFD_CLOEXEC, 10, 0, 0, 0};
        CHECK(may_use_offset(SYS_fcntl, dupfd, 4));
        const std::uint64_t none[6] = {};
        for (long nr : {SYS_fork, SYS_vfork, SYS_clone, SYS_clone3, SYS_sendmsg, SYS_sendmmsg})
            CHECK(may_use_offset(nr, none, 4));
        CHECK_FALSE(may_use_offset(SYS_getpid, none, 4));
    }
}

SCENARIO("the node files' fields survive the wire") {
    WHEN("a Spawn says its thread is the process's only one") {
        SpawnMsg m;
        m.tid = 5;
        m.sole_thread = true;
        auto d = decode_spawn(encode(m));
        REQUIRE(d.has_value());
        CHECK(d->sole_thread);
        m.sole_thread = false;
        auto e = decode_spawn(encode(m));
        REQUIRE(e.has_value());
        CHECK_FALSE(e->sole_thread);
        Bytes b = encode(m);
        b.back() = 2;  // the flag is the last byte
        CHECK_FALSE(decode_spawn(b).has_value());
    }
    WHEN("a Trap carries closes") {
        TrapMsg t;
        t.tid = 9;
        t.closed_fds = {3, 4, 3};
        t.robust_list = std::make_pair(0x1000ull, 24ull);
        auto d = decode_trap(encode(t));
        REQUIRE(d.has_value());
        CHECK(d->closed_fds == std::vector<std::int32_t>{3, 4, 3});
        CHECK(d->robust_list == t.robust_list);
        t.closed_fds.clear();
        auto e = decode_trap(encode(t));
        REQUIRE(e.has_value());
        CHECK(e->closed_fds.empty());
        t.closed_fds = {-1};
        CHECK_FALSE(decode_trap(encode(t)).has_value());
    }
    WHEN("a Trap carries the offsets the node's reads moved") {
        TrapMsg t;
        t.closed_fds = {5};
        t.seeks = {{3, 832}, {4, 0}};
        auto d = decode_trap(encode(t));
        REQUIRE(d.has_value());
        CHECK(d->seeks == t.seeks);
        CHECK(d->closed_fds == t.closed_fds);
        t.seeks = {{3, static_cast<std::uint64_t>(INT64_MAX) + 1}};
        CHECK_FALSE(decode_trap(encode(t)).has_value());
    }
    WHEN("a Resume says which file an open opened") {
        ResumeMsg r;
        r.tid = 9;
        r.opened = std::make_pair(0x803ull, 1234567ull);
        auto d = decode_resume(encode(r));
        REQUIRE(d.has_value());
        CHECK(d->opened == r.opened);
        r.opened.reset();
        Bytes b = encode(r);
        auto e = decode_resume(b);
        REQUIRE(e.has_value());
        CHECK_FALSE(e->opened.has_value());
        b.back() = 2;
        CHECK_FALSE(decode_resume(b).has_value());
    }
}
