#pragma once
// IntervalMap<V>: disjoint half-open intervals of addresses, each with a
// value (pure, no I/O), kept maximal: two touching intervals never hold the
// same value. What is not covered holds no value. The shared core of
// LayoutTable (the guest's access per page) and HostProtTable (the host
// protection per page, where known).
//
// Invariant: map_ holds disjoint, non-empty intervals (start -> {end,
// value}); touching ones differ in value.
#include <cstdint>
#include <iterator>
#include <map>
#include <optional>

namespace spanvm::memory {

template <typename V>
class IntervalMap {
public:
    struct Interval {
        std::uint64_t end;
        V value;
    };
    using Map = std::map<std::uint64_t, Interval>;
    using const_iterator = typename Map::const_iterator;

    // [start, end) holds `value` from now on, or nothing (nullopt).
    void assign(std::uint64_t start, std::uint64_t end, std::optional<V> value) {
        if (start >= end) return;
        // Cut [start, end) out of every interval it overlaps, then put it
        // back with its value, joined to equal neighbours.
        for (auto it = first_overlapping_mut(start); it != map_.end() && it->first < end;) {
            const std::uint64_t a = it->first;
            const Interval iv = it->second;
            it = map_.erase(it);
            if (a < start) map_[a] = {start, iv.value};
            if (iv.end > end) {
                map_[end] = {iv.end, iv.value};
                break;
            }
        }
        if (!value) return;
        map_[start] = {end, *value};
        merge_at(start);
    }
    // The value at addr, or nullopt where none.
    std::optional<V> at(std::uint64_t addr) const {
        auto it = map_.upper_bound(addr);
        if (it == map_.begin()) return std::nullopt;
        --it;
        if (addr < it->second.end) return it->second.value;
        return std::nullopt;
    }
    // The first interval that ends after `start` (the first to overlap
    // [start, ...)), or end().
    const_iterator first_overlapping(std::uint64_t start) const {
        auto it = map_.upper_bound(start);
        if (it != map_.begin() && std::prev(it)->second.end > start) --it;
        return it;
    }
    const_iterator begin() const { return map_.begin(); }
    const_iterator end() const { return map_.end(); }
    std::size_t size() const { return map_.size(); }

private:
    typename Map::iterator first_overlapping_mut(std::uint64_t start) {
        auto it = map_.upper_bound(start);
        if (it != map_.begin() && std::prev(it)->second.end > start) --it;
        return it;
    }
    // Joins the interval at `at` with equal neighbours that touch it.
    void merge_at(std::uint64_t at) {
        auto it = map_.find(at);
        if (it == map_.end()) return;
        auto nx = std::next(it);
        if (nx != map_.end() && nx->first == it->second.end && nx->second.value == it->second.value) {
            it->second.end = nx->second.end;
            map_.erase(nx);
        }
        if (it != map_.begin()) {
            auto pv = std::prev(it);
            if (pv->second.end == it->first && pv->second.value == it->second.value) {
                pv->second.end = it->second.end;
                map_.erase(it);
            }
        }
    }

    Map map_;
};

}  // namespace spanvm::memory
