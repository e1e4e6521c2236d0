#include "vmm/process/signals/signal_table.hpp"

#include <cerrno>
#include <cstdint>
#include <csignal>

namespace spanvm::process {

int64_t SignalTable::exchange(int sig, const KernelSigaction* act, KernelSigaction* old) {
    if (sig < 1 || sig > kMaxSignal) return -EINVAL;
    if (act && (sig == SIGKILL || sig == SIGSTOP)) return -EINVAL;
    std::lock_guard lk(mu_);
    if (old) *old = actions_[sig];
    if (act) actions_[sig] = *act;
    return 0;
}

KernelSigaction SignalTable::get(int sig) const {
    if (sig < 1 || sig > kMaxSignal) return {};
    std::lock_guard lk(mu_);
    return actions_[sig];
}

void SignalTable::reset_handlers() {
    std::lock_guard lk(mu_);
    for (auto& a : actions_)
        if (a.handler != reinterpret_cast<uint64_t>(SIG_IGN)) a = KernelSigaction{};
}

bool SignalTable::default_terminates(int sig) {
    switch (sig) {
        case SIGCHLD: case SIGCONT: case SIGURG: case SIGWINCH:
        case SIGSTOP: case SIGTSTP: case SIGTTIN: case SIGTTOU:
            return false;
        default:
            return true;
    }
}

bool SignalTable::default_stops(int sig) {
    return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

bool SignalTable::ignored(int sig) const {
    if (sig == SIGKILL || sig == SIGSTOP) return false;
    const KernelSigaction a = get(sig);
    if (a.handler == reinterpret_cast<uint64_t>(SIG_IGN)) return true;
    return a.handler == reinterpret_cast<uint64_t>(SIG_DFL) && !default_terminates(sig) && !default_stops(sig);
}

namespace {

using Queue = std::vector<std::pair<int, SigInfoFields>>;

// One pending set (a thread's or the process's): the post of `sig`.
SignalTable::Posted post_to(std::atomic<uint64_t>& pending, SigInfoFields& slot, Queue& queue, int sig,
                            const SigInfoFields& info) {
    const uint64_t bit = sig_bit(sig);
    if (!(pending.load() & bit)) {
        slot = info;
        pending.fetch_or(bit);
        return SignalTable::Posted::fresh;
    }
    if (info.timer) {
        // Linux's timer overrun: another expiry of the same timer while its
        // signal is pending counts on the pending one (si_overrun).
        if (slot.timer && slot.timer_id == info.timer_id && slot.overrun < INT32_MAX) ++slot.overrun;
        return SignalTable::Posted::merged;
    }
    if (sig < SignalTable::kSigRtMin) return SignalTable::Posted::merged;
    if (queue.size() >= SignalTable::kMaxQueued) return SignalTable::Posted::full;
    queue.emplace_back(sig, info);
    return SignalTable::Posted::queued;
}

// Takes `sig` (pending in `pending`) off one set: its siginfo, and the next
// queued instance, if any, takes its place (the bit stays set).
SigInfoFields take_from(std::atomic<uint64_t>& pending, SigInfoFields& slot, Queue& queue, int sig) {
    const SigInfoFields info = slot;
    for (auto it = queue.begin(); it != queue.end(); ++it)
        if (it->first == sig) {
            slot = it->second;
            queue.erase(it);
            return info;
        }
    pending.fetch_and(~sig_bit(sig));
    return info;
}

}  // namespace

SignalTable::Posted SignalTable::post(ThreadRow* row, int sig, SigInfoFields info) {
    std::lock_guard lk(mu_);
    if (row) return post_to(row->sig_pending, row->sig_info[sig], row->sig_queue, sig, info);
    return post_to(shared_pending_, shared_info_[sig], shared_queue_, sig, info);
}

std::optional<SignalTable::Dequeued> SignalTable::dequeue(ThreadRow& row) {
    std::lock_guard lk(mu_);
    auto d = dequeue_locked(row, ~row.sigmask.load());
    if (!d) return d;
    KernelSigaction& a = actions_[d->sig];
    d->act = a;
    if ((a.flags & SA_RESETHAND) && a.handler > 1) a = KernelSigaction{};
    return d;
}

std::optional<SignalTable::Dequeued> SignalTable::take(ThreadRow& row, uint64_t set) {
    std::lock_guard lk(mu_);
    auto d = dequeue_locked(row, set);
    if (d) d->act = actions_[d->sig];
    return d;
}

std::optional<SignalTable::Dequeued> SignalTable::dequeue_locked(ThreadRow& row, uint64_t allowed) {
    Dequeued d{};
    if (uint64_t own = row.sig_pending.load() & allowed) {
        d.sig = __builtin_ctzll(own) + 1;
        d.info = take_from(row.sig_pending, row.sig_info[d.sig], row.sig_queue, d.sig);
    } else if (uint64_t shared = shared_pending_.load() & allowed) {
        d.sig = __builtin_ctzll(shared) + 1;
        d.info = take_from(shared_pending_, shared_info_[d.sig], shared_queue_, d.sig);
    } else {
        return std::nullopt;
    }
    if (d.info.timer) timer_overrun_[d.info.timer_id] = d.info.overrun;
    return d;
}

int SignalTable::timer_overrun(int timer_id) const {
    std::lock_guard lk(mu_);
    auto it = timer_overrun_.find(timer_id);
    return it == timer_overrun_.end() ? 0 : it->second;
}

void SignalTable::forget_timer(int timer_id) {
    std::lock_guard lk(mu_);
    timer_overrun_.erase(timer_id);
}

void SignalTable::forget_timers() {
    std::lock_guard lk(mu_);
    timer_overrun_.clear();
}

std::optional<KernelSigaction> SignalTable::take_forced(int sig, uint64_t sigmask) {
    if (sig < 1 || sig > kMaxSignal) return std::nullopt;
    std::lock_guard lk(mu_);
    KernelSigaction& a = actions_[sig];
    if (a.handler <= 1 || (sigmask & sig_bit(sig))) return std::nullopt;  // SIG_DFL, SIG_IGN, blocked
    KernelSigaction run = a;
    if (a.flags & SA_RESETHAND) a = KernelSigaction{};
    return run;
}

}  // namespace spanvm::process
