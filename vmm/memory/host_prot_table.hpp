#pragma once
// What the host mapping of guest RAM is known to be protected as, range by
// range (pure, no I/O): GuestProtection's record of its own mprotect()s and
// of the mappings the process put there itself (mmap with MAP_FIXED), so
// that it asks the kernel only for a change. On this PVM host an mprotect
// that removes access costs tens of microseconds (a TLB flush, an IPI to
// the other CPU); one that changes nothing is still a system call.
//
// A range not recorded is unknown: whoever asks treats it as differing from
// anything, so forgetting is always safe and recording is the only risk
// (a record that says a page is protected as the guest's layout wants when
// it is not would let the guest reach it). GuestProtection records only
// what it just did, or what its caller just did with the kernel's success.
//
// Invariant: known_ (IntervalMap) holds each known host protection (>= 0).
#include <cstdint>

#include "vmm/memory/interval_map.hpp"

namespace spanvm::memory {

class HostProtTable {
public:
    static constexpr int kUnknown = -1;

    // [start, end) is now host protection `prot` (>= 0), or unknown
    // (kUnknown: forget it).
    void set(std::uint64_t start, std::uint64_t end, int prot);
    // The host protection at addr (kUnknown where not recorded).
    int at(std::uint64_t addr) const;

    // The smallest [first, last) inside [start, end) outside of which every
    // page of [start, end) is known to have protection `prot`: the one range
    // an mprotect() to `prot` must cover (pages inside it that already have
    // `prot` cost the kernel nothing). first >= last when nothing differs.
    struct Span {
        std::uint64_t first = 0;
        std::uint64_t last = 0;
        bool empty() const { return first >= last; }
    };
    Span differing(std::uint64_t start, std::uint64_t end, int prot) const;

    // Number of recorded intervals (for tests).
    std::size_t size() const { return known_.size(); }

private:
    IntervalMap<int> known_;  // start -> {end, host protection}
};

}  // namespace spanvm::memory
