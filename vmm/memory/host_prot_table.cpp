#include "vmm/memory/host_prot_table.hpp"

#include <algorithm>
#include <iterator>

namespace spanvm::memory {

void HostProtTable::set(std::uint64_t start, std::uint64_t end, int prot) {
    if (start >= end) return;
    // Cut [start, end) out of every interval it overlaps, then put it back
    // with its new protection (unless forgotten), joined to equal neighbours.
    auto it = known_.upper_bound(start);
    if (it != known_.begin() && std::prev(it)->second.end > start) --it;
    while (it != known_.end() && it->first < end) {
        const std::uint64_t a = it->first;
        const Interval iv = it->second;
        it = known_.erase(it);
        if (a < start) known_[a] = {start, iv.prot};
        if (iv.end > end) {
            known_[end] = {iv.end, iv.prot};
            break;
        }
    }
    if (prot == kUnknown) return;
    known_[start] = {end, prot};
    merge_at(start);
}

void HostProtTable::merge_at(std::uint64_t at) {
    auto it = known_.find(at);
    if (it == known_.end()) return;
    auto nx = std::next(it);
    if (nx != known_.end() && nx->first == it->second.end && nx->second.prot == it->second.prot) {
        it->second.end = nx->second.end;
        known_.erase(nx);
    }
    if (it != known_.begin()) {
        auto pv = std::prev(it);
        if (pv->second.end == it->first && pv->second.prot == it->second.prot) {
            pv->second.end = it->second.end;
            known_.erase(it);
        }
    }
}

int HostProtTable::at(std::uint64_t addr) const {
    auto it = known_.upper_bound(addr);
    if (it == known_.begin()) return kUnknown;
    --it;
    return addr < it->second.end ? it->second.prot : kUnknown;
}

HostProtTable::Span HostProtTable::differing(std::uint64_t start, std::uint64_t end, int prot) const {
    Span s{end, start};
    if (start >= end) return s;
    auto note = [&](std::uint64_t a, std::uint64_t b) {
        s.first = std::min(s.first, a);
        s.last = std::max(s.last, b);
    };
    auto it = known_.upper_bound(start);
    if (it != known_.begin() && std::prev(it)->second.end > start) --it;
    std::uint64_t cur = start;
    for (; it != known_.end() && it->first < end; ++it) {
        const std::uint64_t a = std::max(it->first, start), b = std::min(it->second.end, end);
        if (cur < a) note(cur, a);  // a gap: unknown
        if (it->second.prot != prot) note(a, b);
        cur = b;
    }
    if (cur < end) note(cur, end);
    return s;
}

}  // namespace spanvm::memory
