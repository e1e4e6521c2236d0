#include "vmm/base/self_pid.hpp"

#include <pthread.h>
#include <unistd.h>

#include <atomic>

namespace spanvm {

namespace {

// 0: not known in this process (yet, or since a fork).
std::atomic<pid_t> g_pid{0};

void forget_in_child() { g_pid.store(0, std::memory_order_relaxed); }

// Registered before main (this file is linked wherever self_pid is called).
const bool g_forgets_at_fork = ::pthread_atfork(nullptr, nullptr, forget_in_child) == 0;

}  // namespace

pid_t self_pid() {
    if (!g_forgets_at_fork) return ::getpid();
    pid_t p = g_pid.load(std::memory_order_relaxed);
    if (p == 0) {
        p = ::getpid();
        g_pid.store(p, std::memory_order_relaxed);
    }
    return p;
}

}  // namespace spanvm
