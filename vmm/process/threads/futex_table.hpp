#pragma once
// Emulated futexes, keyed by guest address (the origin's table in the
// process-sharing design). Not the host futex on the host address: a waiter
// must be wakeable by a thread on another node, and exit_group / shutdown
// must be able to release every waiter.
//
// Atomicity (the futex contract): a waiter reads the guest word and enqueues
// itself under the bucket lock; a waker takes the same lock. A guest store
// followed by FUTEX_WAKE therefore either happens before the waiter's read
// (it sees the new value and returns EAGAIN) or finds it queued.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <optional>
#include <unordered_map>

namespace spanvm::process {

class FutexTable {
public:
    using Clock = std::chrono::steady_clock;
    // Reads the 32-bit guest word at `addr`; nullopt = EFAULT.
    using WordReader = std::function<std::optional<uint32_t>(uint64_t addr)>;

    // Returns 0 when woken, -EAGAIN if *addr != expected, -ETIMEDOUT on
    // deadline, -EFAULT on a bad address, -EINTR when the table is shut down.
    // `interrupted`, when given, is tested under the table lock before
    // sleeping and after every wake-up; true ends the wait with -EINTR (a
    // signal for the waiting thread `tid`, see interrupt()).
    int64_t wait(uint64_t addr, uint32_t expected, uint32_t bitset, std::optional<Clock::time_point> deadline,
                 const WordReader& read_word, int tid = 0, const std::function<bool()>* interrupted = nullptr);
    // Wakes thread `tid`'s waits so they re-test their `interrupted`
    // predicate. A sender sets what the predicate reads before calling this,
    // so a waiter either sees it before sleeping or is woken here.
    void interrupt(int tid);
    // Wakes up to n waiters on addr whose bitset intersects `bitset`.
    int64_t wake(uint64_t addr, int n, uint32_t bitset);
    // FUTEX_CMP_REQUEUE/FUTEX_REQUEUE: wake n_wake, move up to n_requeue to addr2.
    int64_t requeue(uint64_t addr, uint64_t addr2, int n_wake, int n_requeue, std::optional<uint32_t> expected,
                    const WordReader& read_word);
    // Wakes every waiter with -EINTR; later waits fail at once.
    void shutdown();
    size_t waiters() const;

    // fork: held across the host fork(); in the child, forget_waiters()
    // drops the waiters of threads that do not exist there (their Waiter
    // objects live on those threads' stacks and are never touched).
    std::mutex& fork_mutex() const { return mu_; }
    void forget_waiters() {
        queues_.clear();
        shut_down_ = false;
    }

private:
    struct Waiter {
        uint64_t addr;
        uint32_t bitset;
        int tid;
        bool woken = false;
        std::condition_variable cv;
    };
    // One lock for the whole table: futex traffic in the guests spanvm runs
    // is modest and every operation holds it only for a queue edit.
    mutable std::mutex mu_;
    std::unordered_map<uint64_t, std::list<Waiter*>> queues_;
    bool shut_down_ = false;
};

}  // namespace spanvm::process
