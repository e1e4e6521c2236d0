#include "vmm/process/signals/posix_timers.hpp"

#include <vector>

namespace spanvm::process {

PosixTimers::~PosixTimers() { clear(); }

std::optional<int> PosixTimers::create(Event ev, uint64_t clock, bool value_is_id) {
    std::lock_guard lk(mu_);
    int id = 0;
    for (const auto& [k, e] : timers_) {
        if (k != id) break;
        ++id;
    }
    if (id >= kMaxTimers) return std::nullopt;
    if (value_is_id) ev.value = static_cast<uint64_t>(id);
    timers_[id] = {std::make_shared<IntervalTimer>([notify = notify_, id, ev] { notify(id, ev); }), clock};
    return id;
}

std::optional<uint64_t> PosixTimers::clock_of(int id) const {
    std::lock_guard lk(mu_);
    auto it = timers_.find(id);
    if (it == timers_.end()) return std::nullopt;
    return it->second.clock;
}

std::optional<IntervalTimer::Value> PosixTimers::set(int id, IntervalTimer::Value v) {
    std::shared_ptr<IntervalTimer> t;
    {
        std::lock_guard lk(mu_);
        auto it = timers_.find(id);
        if (it == timers_.end()) return std::nullopt;
        t = it->second.timer;
    }
    return t->set(v);
}

std::optional<IntervalTimer::Value> PosixTimers::get(int id) const {
    std::shared_ptr<IntervalTimer> t;
    {
        std::lock_guard lk(mu_);
        auto it = timers_.find(id);
        if (it == timers_.end()) return std::nullopt;
        t = it->second.timer;
    }
    return t->get();
}

bool PosixTimers::remove(int id) {
    std::shared_ptr<IntervalTimer> t;
    {
        std::lock_guard lk(mu_);
        auto it = timers_.find(id);
        if (it == timers_.end()) return false;
        t = std::move(it->second.timer);
        timers_.erase(it);
    }
    t->set({});  // disarmed now; destroyed (thread joined) when the last user lets go, outside mu_
    return true;
}

void PosixTimers::clear() {
    std::map<int, Entry> gone;
    {
        std::lock_guard lk(mu_);
        gone.swap(timers_);
    }
}

void PosixTimers::forget_after_fork() {
    // The map's nodes and the timers stay allocated, unreachable: destroying
    // a timer would join a thread that is not in this process.
    new (&timers_) std::map<int, Entry>();
    new (&mu_) std::mutex();  // a parent thread may have held it at the fork
}

}  // namespace spanvm::process
