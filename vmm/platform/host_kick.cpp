#include "vmm/platform/host_kick.hpp"

#include <ucontext.h>

#include <atomic>

// host_kick.S: compares *kicks with seen, then makes the call call[0] with
// the arguments call[1..6]. [begin, end) covers the comparison up to and
// including the `syscall` instruction.
extern "C" long spanvm_cancellable_syscall(const volatile uint32_t* kicks, uint32_t seen, const long* call);
extern "C" const char spanvm_cancellable_begin[], spanvm_cancellable_end[], spanvm_cancellable_cancel[];

namespace spanvm::platform {

namespace {
// Written only by this thread's own kick handler, read by this thread: a
// plain counter that the compiler must reload (volatile), no atomics needed
// beyond a signal fence.
thread_local volatile uint32_t tl_host_kicks = 0;
}  // namespace

uint32_t host_kicks() {
    const uint32_t k = tl_host_kicks;
    std::atomic_signal_fence(std::memory_order_seq_cst);
    return k;
}

long cancellable_syscall(uint32_t seen, long nr, long a, long b, long c, long d, long e, long f) {
    const long call[7] = {nr, a, b, c, d, e, f};
    std::atomic_signal_fence(std::memory_order_seq_cst);
    return spanvm_cancellable_syscall(&tl_host_kicks, seen, call);
}

void on_host_kick(void* ucontext) {
    tl_host_kicks = tl_host_kicks + 1;
    auto* uc = static_cast<ucontext_t*>(ucontext);
    if (!uc) return;
    const auto rip = static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]);
    if (rip >= reinterpret_cast<uintptr_t>(spanvm_cancellable_begin) &&
        rip < reinterpret_cast<uintptr_t>(spanvm_cancellable_end))
        uc->uc_mcontext.gregs[REG_RIP] = reinterpret_cast<greg_t>(spanvm_cancellable_cancel);
}

}  // namespace spanvm::platform
