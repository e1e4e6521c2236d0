#pragma once
// DSM faults per host thread: totals for the thread table's read/write
// fault columns, and the current placement window's faults per page for
// `--place auto` (sharing_policy.hpp). The DSM engine's fault thread
// records (fault_observer); table printing and Traps read the totals, the
// placement window's owner takes the window (take_window()). At the origin
// an executor's faults (a forwarded call touching guest memory) count for
// the remote thread it serves in the totals. Also per window, the pages
// each thread made this node's (the cost of moving it): those it created
// here (first touches at their home here, with the pages zero-filled ahead:
// record_first_touch) and those it wrote first here (a write fault on a
// page it had not written on this node before: the page is then Modified
// here, wherever it is homed, as a first touch of a page homed elsewhere
// is). A thread that comes to a node runs there on a new host thread, so
// the count starts over; at the origin a thread's executor carries it
// (it leaves out pages the thread wrote there before it left and came
// back; at most kMaxWrittenPages are remembered per host thread).
//
// Threads: record() from the fault thread, the rest from any thread; mu_ is
// a leaf held for one hash lookup (or one window's hand-over).
#include <algorithm>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "vmm/cluster/sharing_policy.hpp"

namespace spanvm::cluster {

struct FaultCounts {
    std::uint64_t read = 0;
    std::uint64_t write = 0;
};

class ThreadFaults {
public:
    // Distinct pages kept per thread per window; faults on further pages
    // count only in the totals.
    static constexpr std::size_t kWindowPages = 1024;
    // Distinct written pages remembered per host thread; beyond them a
    // thread's first writes are no longer counted (it costs more than any
    // window's sharing saves already).
    static constexpr std::size_t kMaxWrittenPages = 65536;

    void record(std::int32_t host_tid, std::uint64_t page, bool write) {
        std::lock_guard lk(mu_);
        auto& c = counts_[host_tid];
        ++(write ? c.write : c.read);
        if (write) {
            auto& written = written_[host_tid];
            if (written.size() < kMaxWrittenPages && written.insert(page).second) ++created_[host_tid];
        }
        auto& w = window_[host_tid];
        auto it = w.find(page);
        if (it == w.end()) {
            if (w.size() >= kWindowPages) return;
            it = w.emplace(page, PageUse{page, 0, 0}).first;
        }
        ++(write ? it->second.writes : it->second.reads);
    }
    void record_first_touch(std::int32_t host_tid, std::uint64_t pages) {
        std::lock_guard lk(mu_);
        created_[host_tid] += pages;
    }
    FaultCounts get(std::int32_t host_tid) const {
        std::lock_guard lk(mu_);
        auto it = counts_.find(host_tid);
        return it == counts_.end() ? FaultCounts{} : it->second;
    }
    // The window so far, per host thread, each thread's `max_pages` most
    // faulted pages (most first), and into `created` (when given) the pages
    // each created here in the window; starts a new window.
    std::unordered_map<std::int32_t, std::vector<PageUse>> take_window(
        std::size_t max_pages, std::unordered_map<std::int32_t, std::uint64_t>* created = nullptr) {
        std::unordered_map<std::int32_t, std::unordered_map<std::uint64_t, PageUse>> w;
        std::unordered_map<std::int32_t, std::uint64_t> c;
        {
            std::lock_guard lk(mu_);
            w.swap(window_);
            c.swap(created_);
        }
        if (created) *created = std::move(c);
        std::unordered_map<std::int32_t, std::vector<PageUse>> out;
        for (auto& [tid, pages] : w) {
            std::vector<PageUse> v;
            v.reserve(pages.size());
            for (auto& [page, use] : pages) v.push_back(use);
            std::sort(v.begin(), v.end(), [](const PageUse& a, const PageUse& b) {
                return a.reads + a.writes != b.reads + b.writes ? a.reads + a.writes > b.reads + b.writes
                                                                : a.page < b.page;
            });
            if (v.size() > max_pages) v.resize(max_pages);
            out.emplace(tid, std::move(v));
        }
        return out;
    }

private:
    mutable std::mutex mu_;
    std::unordered_map<std::int32_t, FaultCounts> counts_;
    std::unordered_map<std::int32_t, std::unordered_map<std::uint64_t, PageUse>> window_;
    std::unordered_map<std::int32_t, std::uint64_t> created_;  // this window's
    std::unordered_map<std::int32_t, std::unordered_set<std::uint64_t>> written_;  // pages each has written here
};

}  // namespace spanvm::cluster
