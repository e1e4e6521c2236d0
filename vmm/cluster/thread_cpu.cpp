#include "vmm/cluster/thread_cpu.hpp"

#include <time.h>

namespace spanvm::cluster {

namespace {
// include/linux/posix-timers.h (kernel-internal, ABI-stable): a thread's CPU
// clock id is ~tid << 3 | CPUCLOCK_PERTHREAD_MASK | clock kind.
constexpr clockid_t CPUCLOCK_PERTHREAD_MASK = 4;
constexpr clockid_t CPUCLOCK_SCHED = 2;
constexpr clockid_t make_thread_cpuclock(std::int32_t tid) {
    return static_cast<clockid_t>((~static_cast<unsigned>(tid)) << 3) | CPUCLOCK_PERTHREAD_MASK | CPUCLOCK_SCHED;
}
}  // namespace

std::uint64_t thread_cpu_ns(std::int32_t host_tid) {
    if (host_tid <= 0) return 0;
    timespec ts{};
    if (clock_gettime(make_thread_cpuclock(host_tid), &ts) != 0) return 0;
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}

std::unordered_map<std::int32_t, std::uint64_t> ThreadCpuWindow::take(const std::vector<std::int32_t>& host_tids) {
    std::unordered_map<std::int32_t, std::uint64_t> out, now;
    for (std::int32_t tid : host_tids) {
        const std::uint64_t ns = thread_cpu_ns(tid);
        if (ns == 0) continue;
        now[tid] = ns;
        auto it = last_.find(tid);
        out[tid] = it == last_.end() || ns < it->second ? 0 : ns - it->second;
    }
    last_ = std::move(now);
    return out;
}

}  // namespace spanvm::cluster
