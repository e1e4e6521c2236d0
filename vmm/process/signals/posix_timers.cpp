#include "vmm/process/signals/posix_timers.hpp"

#include <signal.h>

#include <cerrno>
#include <chrono>
#include <vector>

namespace spanvm::process {

PosixTimers::~PosixTimers() { clear(); }

int PosixTimers::free_id_locked() const {
    int id = 0;
    for (const auto& [k, e] : timers_) {
        if (k != id) break;
        ++id;
    }
    return id < kMaxTimers ? id : -1;
}

std::optional<int> PosixTimers::create(Event ev, uint64_t clock, bool value_is_id) {
    std::lock_guard lk(mu_);
    const int id = free_id_locked();
    if (id < 0) return std::nullopt;
    if (value_is_id) ev.value = static_cast<uint64_t>(id);
    timers_[id] = {std::make_shared<IntervalTimer>([notify = notify_, id, ev] { notify(id, ev, 0); }), clock, {}, ev};
    return id;
}

int PosixTimers::create_on_host(Event ev, uint64_t clock, bool value_is_id, clockid_t host_clock, pid_t forwarder_tid) {
    std::lock_guard lk(mu_);
    const int id = free_id_locked();
    if (id < 0) return -EAGAIN;
    if (value_is_id) ev.value = static_cast<uint64_t>(id);
    struct sigevent se {};
    se.sigev_notify = SIGEV_THREAD_ID;
    se.sigev_signo = SIGALRM;
    se.sigev_value.sival_ptr = reinterpret_cast<void*>(kHostTimerTag | static_cast<uint64_t>(id));
    se._sigev_un._tid = forwarder_tid;
    timer_t host{};
    if (::timer_create(host_clock, &se, &host) != 0) return -errno;
    timers_[id] = {nullptr, clock, host, ev};
    return id;
}

bool PosixTimers::on_host(int id) const {
    std::lock_guard lk(mu_);
    auto it = timers_.find(id);
    return it != timers_.end() && !it->second.timer;
}

int PosixTimers::set_on_host(int id, int flags, const struct itimerspec& v, struct itimerspec* old) {
    std::lock_guard lk(mu_);
    auto it = timers_.find(id);
    if (it == timers_.end() || it->second.timer) return -EINVAL;
    return ::timer_settime(it->second.host, flags, &v, old) == 0 ? 0 : -errno;
}

void PosixTimers::fire(int id, int overrun) {
    Event ev;
    {
        std::lock_guard lk(mu_);
        auto it = timers_.find(id);
        if (it == timers_.end() || it->second.timer) return;  // deleted meanwhile
        ev = it->second.ev;
    }
    notify_(id, ev, overrun);
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
        if (it == timers_.end() || !it->second.timer) return std::nullopt;
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
        if (!it->second.timer) {
            struct itimerspec v {};
            if (::timer_gettime(it->second.host, &v) != 0) return std::nullopt;
            auto d = [](const struct timespec& ts) {
                return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
            };
            return IntervalTimer::Value{d(v.it_value), d(v.it_interval)};
        }
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
        if (!it->second.timer) (void)::timer_delete(it->second.host);
        t = std::move(it->second.timer);
        timers_.erase(it);
    }
    if (t) t->set({});  // disarmed now; destroyed (thread joined) when the last user lets go, outside mu_
    return true;
}

void PosixTimers::clear() {
    std::map<int, Entry> gone;
    {
        std::lock_guard lk(mu_);
        gone.swap(timers_);
    }
    for (auto& [id, e] : gone)
        if (!e.timer) (void)::timer_delete(e.host);
}

void PosixTimers::forget_after_fork() {
    // The map's nodes and the timers stay allocated, unreachable: destroying
    // a timer would join a thread that is not in this process (and a host
    // timer is not inherited by a fork: the kernel's child has none).
    new (&timers_) std::map<int, Entry>();
    new (&mu_) std::mutex();  // a parent thread may have held it at the fork
}

}  // namespace spanvm::process
