#pragma once
// Signal dispositions, as bookkeeping: spanvm does not deliver signals into
// the guest (departure from Linux, documented in ARCHITECTURE.md). What it
// does use: a signal whose disposition is "terminate" ends the process with
// 128+sig, like Linux; SIG_IGN'd signals are dropped.
#include <array>
#include <cstdint>
#include <mutex>

namespace spanvm::process {

// struct k_sigaction as the x86-64 kernel ABI lays it out (32 bytes).
struct KernelSigaction {
    uint64_t handler = 0;   // SIG_DFL = 0, SIG_IGN = 1
    uint64_t flags = 0;
    uint64_t restorer = 0;
    uint64_t mask = 0;
};
static_assert(sizeof(KernelSigaction) == 32);

class SignalTable {
public:
    static constexpr int kMaxSignal = 64;
    // Returns -EINVAL for bad signal numbers / SIGKILL/SIGSTOP changes.
    int64_t exchange(int sig, const KernelSigaction* act, KernelSigaction* old);
    KernelSigaction get(int sig) const;
    // execve: handled signals go back to SIG_DFL; ignored ones stay ignored.
    void reset_handlers();
    // True when the default action for `sig` terminates the process.
    static bool default_terminates(int sig);

private:
    mutable std::mutex mu_;
    std::array<KernelSigaction, kMaxSignal + 1> actions_{};
};

}  // namespace spanvm::process
