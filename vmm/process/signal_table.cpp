#include "vmm/process/signal_table.hpp"

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

}  // namespace spanvm::process
