#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "vmm/process/threads/futex_table.hpp"
#include "vmm/process/threads/thread_table.hpp"
#include "vmm/report/run_report_text.hpp"

using namespace spanvm::process;
using namespace std::chrono_literals;

SCENARIO("futex wait and wake on guest words") {
    FutexTable t;
    std::atomic<uint32_t> word{0};
    auto reader = [&](uint64_t a) -> std::optional<uint32_t> {
        if (a != 0x1000) return std::nullopt;
        return word.load();
    };
    GIVEN("a word whose value differs from the expected one") {
        word = 5;
        THEN("wait returns -EAGAIN at once") { CHECK(t.wait(0x1000, 4, ~0u, std::nullopt, reader) == -EAGAIN); }
    }
    GIVEN("a bad address") {
        THEN("wait returns -EFAULT") { CHECK(t.wait(0x2000, 0, ~0u, std::nullopt, reader) == -EFAULT); }
    }
    GIVEN("a waiter with a deadline and nobody waking it") {
        auto r = t.wait(0x1000, 0, ~0u, FutexTable::Clock::now() + 20ms, reader);
        THEN("it times out and leaves no waiter behind") {
            CHECK(r == -ETIMEDOUT);
            CHECK(t.waiters() == 0);
        }
    }
    GIVEN("a waiter blocked on the word") {
        std::atomic<int64_t> result{1};
        std::thread th([&] { result = t.wait(0x1000, 0, ~0u, std::nullopt, reader); });
        while (t.waiters() == 0) std::this_thread::yield();
        WHEN("a wake with a disjoint bitset arrives") {
            CHECK(t.wake(0x1000, 1, 0) == -EINVAL);
            CHECK(t.wake(0x1000, 1, 0) == -EINVAL);
            THEN("a matching wake releases exactly one waiter") {
                word = 1;
                CHECK(t.wake(0x1000, 10, ~0u) == 1);
                th.join();
                CHECK(result == 0);
            }
        }
    }
    GIVEN("two waiters with different bitsets") {
        std::atomic<int> done{0};
        std::thread a([&] { if (t.wait(0x1000, 0, 0x1, std::nullopt, reader) == 0) done |= 1; });
        std::thread b([&] { if (t.wait(0x1000, 0, 0x2, std::nullopt, reader) == 0) done |= 2; });
        while (t.waiters() < 2) std::this_thread::yield();
        WHEN("a bitset wake for bit 1 arrives") {
            CHECK(t.wake(0x1000, 10, 0x2) == 1);
            b.join();
            THEN("only the matching waiter ran") {
                CHECK(done == 2);
                CHECK(t.wake(0x1000, 10, 0x1) == 1);
                a.join();
                CHECK(done == 3);
            }
        }
    }
    GIVEN("waiters requeued to a second word") {
        std::atomic<int> woke{0};
        std::thread a([&] { if (t.wait(0x1000, 0, ~0u, std::nullopt, reader) == 0) ++woke; });
        std::thread b([&] { if (t.wait(0x1000, 0, ~0u, std::nullopt, reader) == 0) ++woke; });
        while (t.waiters() < 2) std::this_thread::yield();
        CHECK(t.requeue(0x1000, 0x3000, 1, 10, uint32_t{0}, reader) == 2);
        THEN("one woke and the other waits on the second word") {
            while (woke.load() < 1) std::this_thread::yield();
            CHECK(t.wake(0x1000, 10, ~0u) == 0);
            CHECK(t.wake(0x3000, 10, ~0u) == 1);
            a.join();
            b.join();
            CHECK(woke == 2);
        }
    }
    GIVEN("a blocked waiter when the table shuts down (exit_group)") {
        std::atomic<int64_t> result{1};
        std::thread th([&] { result = t.wait(0x1000, 0, ~0u, std::nullopt, reader); });
        while (t.waiters() == 0) std::this_thread::yield();
        t.shutdown();
        th.join();
        THEN("it returns -EINTR and new waits fail at once") {
            CHECK(result == -EINTR);
            CHECK(t.wait(0x1000, 0, ~0u, std::nullopt, reader) == -EINTR);
        }
    }
}

SCENARIO("thread table rows") {
    GIVEN("a table for pid 100") {
        ThreadTable tt(100);
        auto& main = tt.add(0, 0);
        auto& second = tt.add(1, 0);
        THEN("tids start at the pid and rows are listed") {
            CHECK(main.tid == 100);
            CHECK(second.tid == 101);
            CHECK(tt.live_threads() == 2);
            second.state = ThreadState::exited;
            CHECK(tt.live_threads() == 1);
            CHECK(spanvm::report::render_thread_table(tt.report()).find("exited") != std::string::npos);
        }
    }
}

SCENARIO("a signal interrupts one thread's futex wait") {
    FutexTable t;
    std::atomic<uint32_t> word{0};
    auto reader = [&](uint64_t) -> std::optional<uint32_t> { return word.load(); };
    std::atomic<bool> pending7{false}, pending8{false};
    const std::function<bool()> sig7 = [&] { return pending7.load(); };
    const std::function<bool()> sig8 = [&] { return pending8.load(); };
    GIVEN("a signal already pending for the waiter") {
        pending7 = true;
        THEN("the wait returns -EINTR without sleeping") {
            CHECK(t.wait(0x1000, 0, ~0u, std::nullopt, reader, 7, &sig7) == -EINTR);
            CHECK(t.waiters() == 0);
        }
    }
    GIVEN("two threads waiting on the same word") {
        std::atomic<int64_t> r7{1}, r8{1};
        std::thread a([&] { r7 = t.wait(0x1000, 0, ~0u, std::nullopt, reader, 7, &sig7); });
        std::thread b([&] { r8 = t.wait(0x1000, 0, ~0u, std::nullopt, reader, 8, &sig8); });
        while (t.waiters() < 2) std::this_thread::yield();
        WHEN("thread 7 gets a signal and is interrupted") {
            pending7 = true;
            t.interrupt(7);
            a.join();
            THEN("only thread 7 returns -EINTR; thread 8 still waits for a wake") {
                CHECK(r7 == -EINTR);
                CHECK(t.waiters() == 1);
                CHECK(t.wake(0x1000, 1, ~0u) == 1);
                b.join();
                CHECK(r8 == 0);
            }
        }
    }
}
