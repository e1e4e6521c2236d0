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
    std::uint64_t cur = start;
    for (auto it = acc_.first_overlapping(start); it != acc_.end() && it->first < end; ++it) {
        const std::uint64_t a = std::max(it->first, start), b = std::min(it->second.end, end);
        if (acc && cur < a) note(cur, a);
        if (it->second.value != acc) note(a, b);
        cur = b;
    }
    if (acc && cur < end) note(cur, end);
    if (changed.empty()) return changed;
    acc_.assign(start, end, acc ? std::optional<int>(acc) : std::nullopt);
    return changed;
}

std::vector<LayoutRun> LayoutTable::apply(const std::vector<LayoutRun>& runs) {
    std::vector<LayoutRun> changed;
    for (const auto& r : runs) {
        auto c = set(r.start, r.end, r.access);
        changed.insert(changed.end(), c.begin(), c.end());
    }
    return changed;
}

int LayoutTable::access(std::uint64_t addr) const { return acc_.at(addr).value_or(0); }

bool LayoutTable::allows(std::uint64_t start, std::uint64_t len, int need) const {
    if (len == 0 || start + len < start) return false;
    const std::uint64_t end = start + len;
    // Consecutive intervals must cover [start, end), each with `need`.
    std::uint64_t cur = start;
    for (auto it = acc_.first_overlapping(start); it != acc_.end() && cur < end; ++it) {
        if (it->first > cur || it->second.end <= cur || (it->second.value & need) != need) return false;
        cur = it->second.end;
    }
    return cur >= end;
}

std::vector<LayoutRun> LayoutTable::intervals() const {
    std::vector<LayoutRun> out;
    for (const auto& [s, iv] : acc_) out.push_back({s, iv.end, iv.value});
    return out;
}

std::vector<LayoutRun> LayoutTable::intervals_in(std::uint64_t start, std::uint64_t end) const {
    std::vector<LayoutRun> out;
    if (start >= end) return out;
    for (auto it = acc_.first_overlapping(start); it != acc_.end() && it->first < end; ++it)
        out.push_back({std::max(it->first, start), std::min(it->second.end, end), it->second.value});
    return out;
}

}  // namespace spanvm::memory
