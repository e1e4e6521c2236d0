#pragma once
// The guest's layout as every node needs it (pure, no I/O): which pages of
// guest RAM the guest may touch. A page is accessible when some mapping
// other than PROT_NONE covers it; a hole or a PROT_NONE mapping is not (a
// guest access there is SIGSEGV, and the host mapping is PROT_NONE). The
// origin's AddressSpace is the authority; nodes keep this table from its
// Layout messages (vmm/cluster/layout_messages.hpp), and GuestProtection
// (guest_protection.hpp) applies it to the host mapping.
//
// Invariant: acc_ holds disjoint, non-adjacent, non-empty accessible
// intervals inside [lo, hi); everything else in [lo, hi) is inaccessible,
// and nothing outside it is ever accessible.
#include <cstdint>
#include <map>
#include <vector>

namespace spanvm::memory {

// [start, end) became accessible (true) or inaccessible (false).
struct LayoutRun {
    std::uint64_t start = 0;
    std::uint64_t end = 0;
    bool accessible = false;
    bool operator==(const LayoutRun&) const = default;
};

class LayoutTable {
public:
    // Every address of [lo, hi) starts inaccessible.
    LayoutTable(std::uint64_t lo, std::uint64_t hi) : lo_(lo), hi_(hi) {}

    // Marks [start, end) (clamped to [lo, hi)) and returns the parts whose
    // state changed: ascending, maximal, all with the new state. Empty when
    // nothing changed.
    std::vector<LayoutRun> set(std::uint64_t start, std::uint64_t end, bool accessible);
    // Applies runs in order; returns what changed, as set() does.
    std::vector<LayoutRun> apply(const std::vector<LayoutRun>& runs);

    bool accessible(std::uint64_t addr) const;
    // True iff every address of [start, start+len) is accessible (len > 0).
    bool accessible(std::uint64_t start, std::uint64_t len) const;
    // The accessible intervals, ascending (for tests and logs).
    std::vector<LayoutRun> intervals() const;

private:
    std::uint64_t lo_;
    std::uint64_t hi_;
    std::map<std::uint64_t, std::uint64_t> acc_;  // start -> end
};

}  // namespace spanvm::memory
