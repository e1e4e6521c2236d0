#include "vmm/process/signals/signal_table.hpp"

#include <cerrno>
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

bool SignalTable::post(ThreadRow* row, int sig, SigInfoFields info) {
    std::lock_guard lk(mu_);
    const uint64_t bit = sig_bit(sig);
    if (row) {
        if (row->sig_pending.load() & bit) return false;
        row->sig_info[sig] = info;
        row->sig_pending.fetch_or(bit);
    } else {
        if (shared_pending_.load() & bit) return false;
        shared_info_[sig] = info;
        shared_pending_.fetch_or(bit);
    }
    return true;
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
        d.info = row.sig_info[d.sig];
        row.sig_pending.fetch_and(~sig_bit(d.sig));
    } else if (uint64_t shared = shared_pending_.load() & allowed) {
        d.sig = __builtin_ctzll(shared) + 1;
        d.info = shared_info_[d.sig];
        shared_pending_.fetch_and(~sig_bit(d.sig));
    } else {
        return std::nullopt;
    }
    return d;
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
