// SignalTable's pending sets (vmm/process/signals/signal_table.hpp): a
// standard signal merges, a real-time one queues with its siginfo and is
// taken oldest first, a timer's expiry merges, the queue has a limit.
#include <doctest/doctest.h>

#include <csignal>

#include "vmm/process/signals/signal_table.hpp"

using spanvm::process::SigInfoFields;
using spanvm::process::SignalTable;
using spanvm::process::ThreadRow;
using Posted = SignalTable::Posted;

namespace {
SigInfoFields queued(uint64_t value) {
    SigInfoFields f{SI_QUEUE, 7, 0};
    f.value = value;
    return f;
}
}  // namespace

TEST_CASE("signal_table: a standard signal merges, a real-time one queues in order") {
    SignalTable t;
    ThreadRow row;
    CHECK(t.post(nullptr, SIGUSR1, {SI_USER, 1, 0}) == Posted::fresh);
    CHECK(t.post(nullptr, SIGUSR1, {SI_USER, 2, 0}) == Posted::merged);
    const int rt = SignalTable::kSigRtMin + 2;
    CHECK(t.post(nullptr, rt, queued(1)) == Posted::fresh);
    CHECK(t.post(nullptr, rt, queued(2)) == Posted::queued);
    CHECK(t.post(&row, rt, queued(3)) == Posted::fresh);  // the thread's own set is another queue
    CHECK(t.post(nullptr, rt + 1, queued(10)) == Posted::fresh);
    // The thread's own set first (Linux's dequeue_signal), then the
    // process's, lowest number first in each.
    auto a = t.dequeue(row);
    REQUIRE(a);
    CHECK((a->sig == rt && a->info.value == 3));
    auto b = t.dequeue(row);
    REQUIRE(b);
    CHECK(b->sig == SIGUSR1);
    CHECK(b->info.pid == 1);  // the first sender's
    auto c = t.dequeue(row);
    REQUIRE(c);
    CHECK((c->sig == rt && c->info.value == 1));
    CHECK((t.pending(row) & spanvm::process::sig_bit(rt)) != 0);  // one more instance
    auto d = t.dequeue(row);
    REQUIRE(d);
    CHECK((d->sig == rt && d->info.value == 2));
    auto e = t.dequeue(row);
    REQUIRE(e);
    CHECK((e->sig == rt + 1 && e->info.value == 10));
    CHECK_FALSE(t.dequeue(row));
    CHECK(t.pending(row) == 0);
}

TEST_CASE("signal_table: a timer's expiry merges on a real-time signal; the queue is bounded") {
    SignalTable t;
    ThreadRow row;
    const int rt = SignalTable::kSigRtMin + 3;
    SigInfoFields tick{SI_TIMER, 0, 0};
    tick.timer = true;
    CHECK(t.post(nullptr, rt, tick) == Posted::fresh);
    CHECK(t.post(nullptr, rt, tick) == Posted::merged);
    CHECK(t.dequeue(row));
    CHECK_FALSE(t.dequeue(row));
    CHECK(t.post(nullptr, rt, queued(0)) == Posted::fresh);
    for (size_t i = 0; i < SignalTable::kMaxQueued; ++i) REQUIRE(t.post(nullptr, rt, queued(i + 1)) == Posted::queued);
    CHECK(t.post(nullptr, rt, queued(0)) == Posted::full);
    // sigtimedwait's take: the oldest instance too.
    auto w = t.take(row, spanvm::process::sig_bit(rt));
    REQUIRE(w);
    CHECK(w->info.value == 0);
    t.clear_shared_pending();  // a forked child: nothing pending, nothing queued
    CHECK_FALSE(t.dequeue(row));
    CHECK(t.post(nullptr, rt, queued(5)) == Posted::fresh);
}

TEST_CASE("signal_table: a timer's merged expiries are its overrun, as its delivery carried it") {
    SignalTable t;
    ThreadRow row;
    SigInfoFields tick{SI_TIMER, 0, 0};
    tick.timer = true;
    tick.timer_id = 2;
    CHECK(t.timer_overrun(2) == 0);
    CHECK(t.post(nullptr, SIGALRM, tick) == Posted::fresh);
    for (int i = 0; i < 3; ++i) CHECK(t.post(nullptr, SIGALRM, tick) == Posted::merged);
    CHECK(t.timer_overrun(2) == 0);  // counted on delivery, not before
    auto d = t.dequeue(row);
    REQUIRE(d);
    CHECK(d->info.overrun == 3);
    CHECK(t.timer_overrun(2) == 3);
    CHECK(t.post(nullptr, SIGALRM, tick) == Posted::fresh);
    REQUIRE(t.dequeue(row));
    CHECK(t.timer_overrun(2) == 0);
    // Another timer's expiry on the same signal does not count as this one's.
    SigInfoFields other = tick;
    other.timer_id = 5;
    CHECK(t.post(nullptr, SIGALRM, tick) == Posted::fresh);
    CHECK(t.post(nullptr, SIGALRM, other) == Posted::merged);
    auto e = t.dequeue(row);
    REQUIRE(e);
    CHECK(e->info.overrun == 0);
    t.forget_timer(2);
    CHECK(t.timer_overrun(2) == 0);
}
