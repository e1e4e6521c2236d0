#pragma once
// One timer on CLOCK_MONOTONIC: ITIMER_REAL of the process (alarm,
// setitimer, getitimer; Process sends SIGALRM) and each POSIX timer
// (posix_timers.hpp). One VMM thread, started on first use, calls `fire` at
// each expiry. Thread-safe; `fire` runs without the timer's lock held, so
// destroying the timer (which joins its thread) must not happen under a
// lock that `fire` takes.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

namespace spanvm::process {

class IntervalTimer {
public:
    using Clock = std::chrono::steady_clock;
    using Duration = std::chrono::nanoseconds;
    struct Value {
        Duration value{0};     // time to the next expiry, 0 = disarmed
        Duration interval{0};  // reload value, 0 = one-shot
    };

    explicit IntervalTimer(std::function<void()> fire) : fire_(std::move(fire)) {}
    ~IntervalTimer();
    IntervalTimer(const IntervalTimer&) = delete;
    IntervalTimer& operator=(const IntervalTimer&) = delete;

    // Arms (value > 0) or disarms (value == 0); returns the previous setting.
    Value set(Value v);
    Value get() const;

private:
    void loop();
    Value get_locked() const;

    std::function<void()> fire_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    bool armed_ = false;
    bool stop_ = false;
    Clock::time_point deadline_{};
    Duration interval_{0};
    std::thread thread_;
};

}  // namespace spanvm::process
