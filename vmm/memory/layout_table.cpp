#include "vmm/memory/layout_table.hpp"

#include <algorithm>
#include <iterator>

namespace spanvm::memory {

std::vector<LayoutRun> LayoutTable::set(std::uint64_t start, std::uint64_t end, bool accessible) {
    start = std::max(start, lo_);
    end = std::min(end, hi_);
    std::vector<LayoutRun> changed;
    if (start >= end) return changed;
    // The accessible intervals overlapping [start, end).
    auto first = acc_.upper_bound(start);
    if (first != acc_.begin() && std::prev(first)->second > start) --first;
    std::uint64_t cur = start;
    for (auto it = first; it != acc_.end() && it->first < end; ++it) {
        const std::uint64_t a = std::max(it->first, start), b = std::min(it->second, end);
        if (accessible) {
            if (cur < a) changed.push_back({cur, a, true});
        } else {
            changed.push_back({a, b, false});
        }
        cur = b;
    }
    if (accessible && cur < end) changed.push_back({cur, end, true});
    if (changed.empty()) return changed;

    if (accessible) {
        // Swallow every interval overlapping or touching [start, end).
        std::uint64_t s = start, e = end;
        auto it = acc_.upper_bound(start);
        if (it != acc_.begin() && std::prev(it)->second >= start) --it;
        while (it != acc_.end() && it->first <= end) {
            s = std::min(s, it->first);
            e = std::max(e, it->second);
            it = acc_.erase(it);
        }
        acc_[s] = e;
    } else {
        // Cut [start, end) out of the overlapping intervals.
        auto it = first;
        while (it != acc_.end() && it->first < end) {
            const std::uint64_t a = it->first, b = it->second;
            it = acc_.erase(it);
            if (a < start) acc_[a] = start;
            if (b > end) {
                acc_[end] = b;
                break;
            }
        }
    }
    return changed;
}

std::vector<LayoutRun> LayoutTable::apply(const std::vector<LayoutRun>& runs) {
    std::vector<LayoutRun> changed;
    for (const auto& r : runs) {
        auto c = set(r.start, r.end, r.accessible);
        changed.insert(changed.end(), c.begin(), c.end());
    }
    return changed;
}

bool LayoutTable::accessible(std::uint64_t addr) const {
    auto it = acc_.upper_bound(addr);
    if (it == acc_.begin()) return false;
    --it;
    return addr < it->second;
}

bool LayoutTable::accessible(std::uint64_t start, std::uint64_t len) const {
    if (len == 0 || start + len < start) return false;
    auto it = acc_.upper_bound(start);
    if (it == acc_.begin()) return false;
    --it;
    return start + len <= it->second;
}

std::vector<LayoutRun> LayoutTable::intervals() const {
    std::vector<LayoutRun> out;
    for (const auto& [s, e] : acc_) out.push_back({s, e, true});
    return out;
}

}  // namespace spanvm::memory
