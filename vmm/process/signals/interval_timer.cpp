#include "vmm/process/signals/interval_timer.hpp"

namespace spanvm::process {

IntervalTimer::~IntervalTimer() {
    {
        std::lock_guard lk(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

IntervalTimer::Value IntervalTimer::get_locked() const {
    if (!armed_) return {};
    auto left = std::chrono::duration_cast<Duration>(deadline_ - Clock::now());
    // An armed timer never reports 0 left (that would read as disarmed).
    if (left <= Duration{0}) left = Duration{1};
    return {left, interval_};
}

IntervalTimer::Value IntervalTimer::get() const {
    std::lock_guard lk(mu_);
    return get_locked();
}

IntervalTimer::Value IntervalTimer::set(Value v) {
    std::lock_guard lk(mu_);
    Value old = get_locked();
    armed_ = v.value > Duration{0};
    deadline_ = Clock::now() + v.value;
    interval_ = v.interval;
    if (!thread_.joinable() && armed_) thread_ = std::thread([this] { loop(); });
    cv_.notify_all();
    return old;
}

void IntervalTimer::loop() {
    std::unique_lock lk(mu_);
    while (!stop_) {
        if (!armed_) {
            cv_.wait(lk);
            continue;
        }
        if (cv_.wait_until(lk, deadline_) == std::cv_status::no_timeout) continue;  // re-read the setting
        if (!armed_ || Clock::now() < deadline_) continue;
        if (interval_ > Duration{0}) {
            deadline_ += interval_;
        } else {
            armed_ = false;
        }
        lk.unlock();
        fire_();
        lk.lock();
    }
}

}  // namespace spanvm::process
