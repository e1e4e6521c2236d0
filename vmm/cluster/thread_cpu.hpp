#pragma once
// CPU time each host thread ran in a placement window, for `--place auto`
// (sharing_policy.hpp weighs a pair's stall against the time its threads
// actually ran, so a loaded host does not hide sharing). Reads the kernel's
// per-thread CPU clocks of this process (clock_gettime on a thread clock id,
// Linux ABI: MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED)).
//
// Threads: one owner (the placement or sharing thread); not thread-safe.
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace spanvm::cluster {

class ThreadCpuWindow {
public:
    // CPU time of each of `host_tids` since the previous call, in ns; 0 for
    // a thread seen for the first time (its earlier time is not this
    // window's: an executor that becomes a migrated thread brings its own)
    // or one whose clock cannot be read. Threads not listed are forgotten.
    std::unordered_map<std::int32_t, std::uint64_t> take(const std::vector<std::int32_t>& host_tids);

private:
    std::unordered_map<std::int32_t, std::uint64_t> last_;
};

// The thread's CPU time so far, in ns, or 0 when it cannot be read (the
// thread is gone or belongs to another process).
std::uint64_t thread_cpu_ns(std::int32_t host_tid);

}  // namespace spanvm::cluster
