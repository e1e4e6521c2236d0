// Kick-cancellable host calls (vmm/platform/host_kick.hpp): a call made
// when no kick came, not made when one came before it, and a kick inside
// the call's code before its `syscall` sends it to the cancel exit. Runs
// without root: pipes, a real-time signal and this thread's own context.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <thread>

#include "vmm/platform/host_kick.hpp"

using namespace spanvm::platform;

extern "C" const char spanvm_cancellable_begin[], spanvm_cancellable_end[], spanvm_cancellable_cancel[];

namespace {
void kick_handler(int, siginfo_t*, void* uc) { on_host_kick(uc); }

struct Pipe {
    int fd[2] = {-1, -1};
    Pipe() { REQUIRE(::pipe2(fd, O_CLOEXEC) == 0); }
    ~Pipe() {
        ::close(fd[0]);
        ::close(fd[1]);
    }
};

ucontext_t context_at(const void* rip) {
    ucontext_t uc{};
    uc.uc_mcontext.gregs[REG_RIP] = reinterpret_cast<greg_t>(rip);
    return uc;
}
}  // namespace

TEST_CASE("host_kick: a call is made when no kick came since the count was taken") {
    Pipe p;
    const char c = 'k';
    const uint32_t seen = host_kicks();
    CHECK(cancellable_syscall(seen, SYS_write, p.fd[1], reinterpret_cast<long>(&c), 1) == 1);
    char got = 0;
    CHECK(cancellable_syscall(host_kicks(), SYS_read, p.fd[0], reinterpret_cast<long>(&got), 1) == 1);
    CHECK(got == 'k');
    // A failing call returns -errno, as the kernel does.
    CHECK(cancellable_syscall(host_kicks(), SYS_read, -1, reinterpret_cast<long>(&got), 1) == -EBADF);
}

TEST_CASE("host_kick: a kick after the count was taken: the call is not made") {
    Pipe p;
    const uint32_t seen = host_kicks();
    on_host_kick(nullptr);  // a kick that landed in VMM code (no context to move)
    CHECK(host_kicks() == seen + 1);
    const char c = 'x';
    CHECK(cancellable_syscall(seen, SYS_write, p.fd[1], reinterpret_cast<long>(&c), 1) == kNotMade);
    // Nothing was written: the pipe is still empty.
    char got = 0;
    CHECK(::fcntl(p.fd[0], F_SETFL, O_NONBLOCK) == 0);
    CHECK(::read(p.fd[0], &got, 1) == -1);
    CHECK(errno == EAGAIN);
}

TEST_CASE("host_kick: a kick inside the call's code moves it to the cancel exit, and only there") {
    // Every instruction before the end of `syscall` is inside; the `ret`
    // after it (a kick that ended the call itself) is not.
    const auto begin = reinterpret_cast<uintptr_t>(spanvm_cancellable_begin);
    const auto end = reinterpret_cast<uintptr_t>(spanvm_cancellable_end);
    REQUIRE(end > begin);
    for (uintptr_t rip : {begin, begin + 1, end - 2, end - 1}) {
        ucontext_t uc = context_at(reinterpret_cast<const void*>(rip));
        on_host_kick(&uc);
        CHECK(uc.uc_mcontext.gregs[REG_RIP] == reinterpret_cast<greg_t>(spanvm_cancellable_cancel));
    }
    for (uintptr_t rip : {end, begin - 1, reinterpret_cast<uintptr_t>(&kick_handler)}) {
        ucontext_t uc = context_at(reinterpret_cast<const void*>(rip));
        on_host_kick(&uc);
        CHECK(uc.uc_mcontext.gregs[REG_RIP] == static_cast<greg_t>(rip));
    }
}

TEST_CASE("host_kick: a real signal ends a blocking read, wherever it lands") {
    // One kick per round from another thread, at a random moment around
    // the start of a read of an empty pipe; each round must end (EINTR or
    // kNotMade) and none may sleep for good. Without the count and the
    // cancel exit, a kick before the `syscall` was lost (the read slept).
    const int sig = SIGRTMIN + 7;
    struct sigaction sa{}, old{};
    sa.sa_sigaction = kick_handler;
    sa.sa_flags = SA_SIGINFO;  // no SA_RESTART, as the platforms install it
    sigemptyset(&sa.sa_mask);
    REQUIRE(::sigaction(sig, &sa, &old) == 0);
    Pipe p;
    std::atomic<int> ready{-1}, done{-1}, lost{0};
    const pid_t tid = static_cast<pid_t>(::syscall(SYS_gettid));
    constexpr int kRounds = 300;
    int interrupted = 0, not_made = 0;
    std::thread sender([&] {
        uint64_t x = 88172645463325252ull;
        for (int i = 0; i < kRounds; ++i) {
            while (ready.load() != i) std::this_thread::yield();
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(x % 40);
            while (std::chrono::steady_clock::now() < until) {
            }
            // One kick: the count was taken before `ready`, so it must end
            // the round. If it does not within 3 s it was lost; kick again
            // so that the test ends, and count it.
            ::syscall(SYS_tgkill, ::getpid(), tid, sig);
            const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
            while (done.load() != i) {
                if (std::chrono::steady_clock::now() > deadline) {
                    lost.fetch_add(1);
                    ::syscall(SYS_tgkill, ::getpid(), tid, sig);
                    std::this_thread::sleep_for(std::chrono::milliseconds(10));
                } else {
                    std::this_thread::yield();
                }
            }
        }
    });
    uint64_t y = 0x2545F4914F6CDD1Dull;
    for (int i = 0; i < kRounds; ++i) {
        const uint32_t seen = host_kicks();
        ready.store(i);
        // Work between the count and the call, as the process layer's test
        // for a deliverable signal: kicks land there too.
        y ^= y << 13, y ^= y >> 7, y ^= y << 17;
        const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(y % 40);
        while (std::chrono::steady_clock::now() < until) {
        }
        char c;
        const long r = cancellable_syscall(seen, SYS_read, p.fd[0], reinterpret_cast<long>(&c), 1);
        CHECK((r == -EINTR || r == kNotMade));
        (r == kNotMade ? not_made : interrupted)++;
        done.store(i);
    }
    sender.join();
    ::sigaction(sig, &old, nullptr);
    CHECK(interrupted + not_made == kRounds);
    CHECK(lost.load() == 0);
    MESSAGE("rounds ended by EINTR: " << interrupted << ", not made: " << not_made);
}
