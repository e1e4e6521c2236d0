#pragma once
// Signal dispositions and pending signals of the process.
//
// Pending sets are bit masks (bit sig-1): one per thread (ThreadRow::
// sig_pending, thread-directed: tkill/tgkill/SIGPIPE) and one for the
// process (kill, SIGALRM). A standard signal sent while pending merges
// into it; a real-time one (kSigRtMin and up) is queued, each instance
// with its siginfo, delivered oldest first (Linux's sigqueue list), except
// a POSIX timer's expiry, which merges as Linux's preallocated one does and
// counts the merged expiries as its overrun (si_overrun, timer_getoverrun).
// Departure: at most kMaxQueued extra instances per pending set (Linux's
// limit is RLIMIT_SIGPENDING, per user); past it a sender gets EAGAIN.
//
// mu_ guards the actions and the siginfo arrays; it is a leaf lock (held
// for a table edit only). The pending masks are atomics so that a futex
// waiter can test "has a deliverable signal" under FutexTable::mu_.
#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "vmm/process/signals/signal_frame.hpp"
#include "vmm/process/threads/thread_table.hpp"

namespace spanvm::process {

// struct k_sigaction as the x86-64 kernel ABI lays it out (32 bytes).
struct KernelSigaction {
    uint64_t handler = 0;   // SIG_DFL = 0, SIG_IGN = 1
    uint64_t flags = 0;
    uint64_t restorer = 0;
    uint64_t mask = 0;
};
static_assert(sizeof(KernelSigaction) == 32);

inline constexpr uint64_t sig_bit(int sig) { return 1ull << (sig - 1); }

class SignalTable {
public:
    static constexpr int kMaxSignal = 64;
    // SIGKILL and SIGSTOP can be neither caught nor blocked.
    static constexpr uint64_t kUnblockable = (1ull << 8) | (1ull << 18);

    // Returns -EINVAL for bad signal numbers / SIGKILL/SIGSTOP changes.
    int64_t exchange(int sig, const KernelSigaction* act, KernelSigaction* old);
    KernelSigaction get(int sig) const;
    // execve: handled signals go back to SIG_DFL; ignored ones stay ignored.
    void reset_handlers();
    // True when the default action for `sig` terminates the process.
    static bool default_terminates(int sig);
    // True when it stops the process (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU).
    static bool default_stops(int sig);
    // SIG_IGN, or SIG_DFL with an "ignore" default action.
    bool ignored(int sig) const;

    // The first real-time signal (Linux's kernel SIGRTMIN; glibc's SIGRTMIN
    // is 34, keeping 32 and 33 for itself).
    static constexpr int kSigRtMin = 32;
    static constexpr size_t kMaxQueued = 1024;

    enum class Posted {
        fresh,   // newly pending: the taker needs a kick
        merged,  // a standard signal (or a timer's) already pending
        queued,  // a real-time signal queued behind a pending instance
        full,    // a real-time signal past kMaxQueued: not posted (EAGAIN)
    };
    // Marks `sig` pending for `row`, or for the process when row is null.
    // Dropping ignored signals is the sender's decision (Process::send_signal).
    Posted post(ThreadRow* row, int sig, SigInfoFields info);

    struct Dequeued {
        int sig;
        SigInfoFields info;
        KernelSigaction act;  // the action as it was (before SA_RESETHAND)
    };
    // Takes the lowest signal pending for `row` (its own set first, then the
    // process's) that `row` does not block, applying SA_RESETHAND.
    std::optional<Dequeued> dequeue(ThreadRow& row);
    // sigtimedwait: takes the lowest signal of `set` pending for `row` (its
    // own first, then the process's), blocked or not, and runs no action
    // (no SA_RESETHAND).
    std::optional<Dequeued> take(ThreadRow& row, uint64_t set);
    // A signal forced by a CPU exception (Linux force_sig_fault): the action
    // to run when a handler is installed and `sigmask` does not block it
    // (applying SA_RESETHAND); nullopt when the process must die instead
    // (SIG_DFL, SIG_IGN or blocked).
    std::optional<KernelSigaction> take_forced(int sig, uint64_t sigmask);
    // Pending for the thread or the process and not blocked by `row`.
    uint64_t deliverable(const ThreadRow& row) const {
        return (row.sig_pending.load() | shared_pending_.load()) & ~row.sigmask.load();
    }
    uint64_t pending(const ThreadRow& row) const { return row.sig_pending.load() | shared_pending_.load(); }
    uint64_t shared_pending() const { return shared_pending_.load(); }

    // A POSIX timer's overrun as its last delivered (or accepted) signal
    // carried it: timer_getoverrun(2). 0 before any.
    int timer_overrun(int timer_id) const;
    // The timer is deleted (or every timer: execve, a forked child).
    void forget_timer(int timer_id);
    void forget_timers();

    // fork: held across the host fork(); the child starts with no signal
    // pending for the process (Linux clears the child's pending set) and
    // no timers (so no overruns). clear_shared_pending runs in the child
    // with fork_mutex() still held.
    std::mutex& fork_mutex() const { return mu_; }
    void clear_shared_pending() {
        shared_pending_.store(0);
        shared_queue_.clear();
        // Tested first: a map's clear() writes its header even when empty
        // (in a forked child, a copy-on-write of that page).
        if (!timer_overrun_.empty()) timer_overrun_.clear();
    }

private:
    // The lowest signal of `allowed` pending for `row`, then for the
    // process, taken off its pending set. Caller holds mu_.
    std::optional<Dequeued> dequeue_locked(ThreadRow& row, uint64_t allowed);
    mutable std::mutex mu_;
    std::array<KernelSigaction, kMaxSignal + 1> actions_{};
    std::atomic<uint64_t> shared_pending_{0};
    std::array<SigInfoFields, kMaxSignal + 1> shared_info_{};
    std::vector<std::pair<int, SigInfoFields>> shared_queue_;  // as ThreadRow::sig_queue
    std::map<int, int> timer_overrun_;                          // timer id -> last delivered si_overrun
};

}  // namespace spanvm::process
