#pragma once
// DSM faults per host thread, for the thread table's read/write fault
// columns. The DSM engine's fault thread records (fault_observer); table
// printing and Traps read. At the origin an executor's faults (a forwarded
// call touching guest memory) count for the remote thread it serves.
//
// Threads: record() from the fault thread, get() from any thread; mu_ is a
// leaf held for one hash lookup.
#include <cstdint>
#include <mutex>
#include <unordered_map>

namespace spanvm::cluster {

struct FaultCounts {
    std::uint64_t read = 0;
    std::uint64_t write = 0;
};

class ThreadFaults {
public:
    void record(std::int32_t host_tid, bool write) {
        std::lock_guard lk(mu_);
        auto& c = counts_[host_tid];
        ++(write ? c.write : c.read);
    }
    FaultCounts get(std::int32_t host_tid) const {
        std::lock_guard lk(mu_);
        auto it = counts_.find(host_tid);
        return it == counts_.end() ? FaultCounts{} : it->second;
    }

private:
    mutable std::mutex mu_;
    std::unordered_map<std::int32_t, FaultCounts> counts_;
};

}  // namespace spanvm::cluster
