#pragma once
// A process's POSIX timers (timer_create, timer_settime, timer_gettime,
// timer_getoverrun, timer_delete). A timer on a wall or monotonic clock is
// an IntervalTimer (one VMM thread while it exists); a timer on a CPU-time
// clock is a host POSIX timer on the same clock (the guest's threads are
// host threads, so the host's CPU accounting is theirs), whose expiry
// (SIGALRM, SI_TIMER, value kHostTimerTag | id) goes to the process's signal
// forwarder thread, which calls fire(). Either way an expiry calls `notify`
// with the timer's id, signal, target thread, value and the expiries it
// merged (the host's si_overrun); Process turns that into the guest signal
// with SI_TIMER siginfo. Ids are the lowest free from 0, as Linux's.
//
// Clocks: CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME and their _ALARM
// forms run on the host's monotonic clock; an absolute time on a realtime
// clock is turned into a delay when it is set (departure: a later change
// of the host's wall clock does not move the expiry). CPU-time clocks are
// the host's, absolute times included.
//
// Lock order: mu_ is a leaf; a timer is destroyed (its thread joined)
// outside it, and `notify` never takes it.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include <time.h>

#include "vmm/process/signals/interval_timer.hpp"

namespace spanvm::process {

class PosixTimers {
public:
    struct Event {
        int signo = 0;        // 0: SIGEV_NONE (no signal)
        int tid = 0;          // SIGEV_THREAD_ID's thread, 0: the process
        uint64_t value = 0;   // sigev_value
    };
    using Notify = std::function<void(int id, const Event& ev, int overrun)>;
    // The upper half of a host timer's sigev_value; the lower half is the id.
    static constexpr uint64_t kHostTimerTag = 0x5350564dull << 32;  // "SPVM"
    static constexpr uint64_t kHostTimerIdMask = 0xffffffffull;

    explicit PosixTimers(Notify notify) : notify_(std::move(notify)) {}
    ~PosixTimers();
    PosixTimers(const PosixTimers&) = delete;
    PosixTimers& operator=(const PosixTimers&) = delete;

    // The new timer's id, or nullopt when the process has kMaxTimers.
    // `clock` is the guest's clock id (kept for TIMER_ABSTIME); with
    // `value_is_id` the signal's value is the new id (a NULL sigevent).
    std::optional<int> create(Event ev, uint64_t clock, bool value_is_id);
    // A timer on the host's CPU-time clock `host_clock`, its expiry signal
    // sent to host thread `forwarder_tid`: the new id, or -errno (EAGAIN
    // for kMaxTimers).
    int create_on_host(Event ev, uint64_t clock, bool value_is_id, clockid_t host_clock, pid_t forwarder_tid);
    // Whether `id` is a host timer.
    bool on_host(int id) const;
    // timer_settime of a host timer (flags: TIMER_ABSTIME): 0 or -errno.
    int set_on_host(int id, int flags, const struct itimerspec& v, struct itimerspec* old);
    // A host timer's expiry, from the forwarder: `overrun` more merged.
    void fire(int id, int overrun);
    // The clock a timer was made on, or nullopt for an unknown id.
    std::optional<uint64_t> clock_of(int id) const;
    // Arms (value > 0) or disarms `id`; the old setting, or nullopt for an
    // unknown id.
    std::optional<IntervalTimer::Value> set(int id, IntervalTimer::Value v);
    std::optional<IntervalTimer::Value> get(int id) const;
    bool remove(int id);
    // Every timer goes (execve: Linux deletes a process's POSIX timers).
    void clear();
    // In a forked child: the objects copied from the parent are left alone
    // (their threads stayed there) and the child starts with none, as Linux.
    void forget_after_fork();

    static constexpr int kMaxTimers = 4096;

private:
    Notify notify_;
    mutable std::mutex mu_;
    struct Entry {
        std::shared_ptr<IntervalTimer> timer;  // null for a host timer
        uint64_t clock = 0;
        timer_t host{};  // a host timer's
        Event ev;        // a host timer's notification
    };
    // The lowest free id (caller holds mu_), or -1.
    int free_id_locked() const;
    std::map<int, Entry> timers_;
};

}  // namespace spanvm::process
