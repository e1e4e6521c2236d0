#include "vmm/memory/fill_table.hpp"

#include <iterator>

namespace spanvm::memory {

void FillTable::set(const FillRun& run) {
    if (run.start >= run.end) return;
    // Cut [start, end) out of the overlapping intervals (keeping what lies
    // outside it, with its file offset advanced), then put the run back.
    auto it = runs_.upper_bound(run.start);
    if (it != runs_.begin() && std::prev(it)->second.end > run.start) --it;
    while (it != runs_.end() && it->first < run.end) {
        const std::uint64_t a = it->first;
        const Interval iv = it->second;
        it = runs_.erase(it);
        if (a < run.start) runs_[a] = {run.start, iv.file, iv.offset};
        if (iv.end > run.end) {
            runs_[run.end] = {iv.end, iv.file, iv.offset + (run.end - a)};
            break;
        }
    }
    if (run.file == kZeroFile) return;
    auto [cur, ok] = runs_.insert_or_assign(run.start, Interval{run.end, run.file, run.offset});
    // Join neighbours that continue the same file.
    auto nx = std::next(cur);
    if (nx != runs_.end() && nx->first == cur->second.end && nx->second.file == cur->second.file &&
        nx->second.offset == cur->second.offset + (nx->first - cur->first)) {
        cur->second.end = nx->second.end;
        runs_.erase(nx);
    }
    if (cur != runs_.begin()) {
        auto pv = std::prev(cur);
        if (pv->second.end == cur->first && pv->second.file == cur->second.file &&
            pv->second.offset + (cur->first - pv->first) == cur->second.offset) {
            pv->second.end = cur->second.end;
            runs_.erase(cur);
        }
    }
}

PageFill FillTable::at(std::uint64_t addr) const {
    auto it = runs_.upper_bound(addr);
    if (it == runs_.begin()) return {};
    --it;
    if (addr >= it->second.end) return {};
    const std::uint64_t page = addr & ~std::uint64_t{0xfff};
    return {it->second.file, it->second.offset + (page - it->first)};
}

bool FillTable::any_in(std::uint64_t start, std::uint64_t end) const {
    if (start >= end || runs_.empty()) return false;
    auto it = runs_.upper_bound(start);
    if (it != runs_.begin() && std::prev(it)->second.end > start) return true;
    return it != runs_.end() && it->first < end;
}

std::vector<FillRun> FillTable::runs() const {
    std::vector<FillRun> out;
    for (const auto& [s, iv] : runs_) out.push_back({s, iv.end, iv.file, iv.offset});
    return out;
}

}  // namespace spanvm::memory
