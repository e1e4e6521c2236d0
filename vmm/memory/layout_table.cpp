#include "vmm/memory/layout_table.hpp"

#include <algorithm>
#include <iterator>

namespace spanvm::memory {

std::vector<LayoutRun> LayoutTable::set(std::uint64_t start, std::uint64_t end, int prot) {
    start = std::max(start, lo_);
    end = std::min(end, hi_);
    const int acc = normalize_access(prot);
    std::vector<LayoutRun> changed;
    if (start >= end) return changed;
    auto note = [&](std::uint64_t a, std::uint64_t b) {
        if (!changed.empty() && changed.back().end == a)
            changed.back().end = b;
        else
            changed.push_back({a, b, acc});
    };
    // The intervals overlapping [start, end), and the holes between them.
    auto first = acc_.upper_bound(start);
    if (first != acc_.begin() && std::prev(first)->second.end > start) --first;
    std::uint64_t cur = start;
    for (auto it = first; it != acc_.end() && it->first < end; ++it) {
        const std::uint64_t a = std::max(it->first, start), b = std::min(it->second.end, end);
        if (acc && cur < a) note(cur, a);
        if (it->second.access != acc) note(a, b);
        cur = b;
    }
    if (acc && cur < end) note(cur, end);
    if (changed.empty()) return changed;

    // Cut [start, end) out of the overlapping intervals, then put it back
    // with its new access, joined to equal neighbours.
    for (auto it = first; it != acc_.end() && it->first < end;) {
        const std::uint64_t a = it->first;
        const Interval iv = it->second;
        it = acc_.erase(it);
        if (a < start) acc_[a] = {start, iv.access};
        if (iv.end > end) {
            acc_[end] = {iv.end, iv.access};
            break;
        }
    }
    if (acc) {
        acc_[start] = {end, acc};
        merge_at(start);
    }
    return changed;
}

void LayoutTable::merge_at(std::uint64_t at) {
    auto it = acc_.find(at);
    if (it == acc_.end()) return;
    auto nx = std::next(it);
    if (nx != acc_.end() && nx->first == it->second.end && nx->second.access == it->second.access) {
        it->second.end = nx->second.end;
        acc_.erase(nx);
    }
    if (it != acc_.begin()) {
        auto pv = std::prev(it);
        if (pv->second.end == it->first && pv->second.access == it->second.access) {
            pv->second.end = it->second.end;
            acc_.erase(it);
        }
    }
}

std::vector<LayoutRun> LayoutTable::apply(const std::vector<LayoutRun>& runs) {
    std::vector<LayoutRun> changed;
    for (const auto& r : runs) {
        auto c = set(r.start, r.end, r.access);
        changed.insert(changed.end(), c.begin(), c.end());
    }
    return changed;
}

int LayoutTable::access(std::uint64_t addr) const {
    auto it = acc_.upper_bound(addr);
    if (it == acc_.begin()) return 0;
    --it;
    return addr < it->second.end ? it->second.access : 0;
}

bool LayoutTable::allows(std::uint64_t start, std::uint64_t len, int need) const {
    if (len == 0 || start + len < start) return false;
    const std::uint64_t end = start + len;
    auto it = acc_.upper_bound(start);
    if (it == acc_.begin()) return false;
    --it;
    // Consecutive intervals must cover [start, end), each with `need`.
    std::uint64_t cur = start;
    for (; it != acc_.end() && cur < end; ++it) {
        if (it->first > cur || it->second.end <= cur || (it->second.access & need) != need) return false;
        cur = it->second.end;
    }
    return cur >= end;
}

std::vector<LayoutRun> LayoutTable::intervals() const {
    std::vector<LayoutRun> out;
    for (const auto& [s, iv] : acc_) out.push_back({s, iv.end, iv.access});
    return out;
}

std::vector<LayoutRun> LayoutTable::intervals_in(std::uint64_t start, std::uint64_t end) const {
    std::vector<LayoutRun> out;
    if (start >= end) return out;
    auto it = acc_.upper_bound(start);
    if (it != acc_.begin() && std::prev(it)->second.end > start) --it;
    for (; it != acc_.end() && it->first < end; ++it)
        out.push_back({std::max(it->first, start), std::min(it->second.end, end), it->second.access});
    return out;
}

}  // namespace spanvm::memory
