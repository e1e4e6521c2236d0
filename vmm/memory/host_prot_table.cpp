#include "vmm/memory/host_prot_table.hpp"

#include <algorithm>
#include <iterator>

namespace spanvm::memory {

void HostProtTable::set(std::uint64_t start, std::uint64_t end, int prot) {
    known_.assign(start, end, prot == kUnknown ? std::nullopt : std::optional<int>(prot));
}

int HostProtTable::at(std::uint64_t addr) const { return known_.at(addr).value_or(kUnknown); }

HostProtTable::Span HostProtTable::differing(std::uint64_t start, std::uint64_t end, int prot) const {
    Span s{end, start};
    if (start >= end) return s;
    auto note = [&](std::uint64_t a, std::uint64_t b) {
        s.first = std::min(s.first, a);
        s.last = std::max(s.last, b);
    };
    std::uint64_t cur = start;
    for (auto it = known_.first_overlapping(start); it != known_.end() && it->first < end; ++it) {
        const std::uint64_t a = std::max(it->first, start), b = std::min(it->second.end, end);
        if (cur < a) note(cur, a);  // a gap: unknown
        if (it->second.value != prot) note(a, b);
        cur = b;
    }
    if (cur < end) note(cur, end);
    return s;
}

}  // namespace spanvm::memory
