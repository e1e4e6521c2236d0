#pragma once
// The guest's layout as every node needs it (pure, no I/O): what the guest
// may do with each page of guest RAM. A page's access is the protection of
// the mapping that covers it (normalize_access); a hole or a PROT_NONE
// mapping has none (a guest access there is SIGSEGV, and the host mapping
// is PROT_NONE), a PROT_READ page refuses writes, a page without PROT_EXEC
// refuses execution where the platform can (GuestProtection). The origin's
// AddressSpace is the authority; nodes keep this table from its Layout
// messages (vmm/cluster/layout_messages.hpp), and GuestProtection
// (guest_protection.hpp) applies it to the host mapping.
//
// Invariant: acc_ holds disjoint, non-empty intervals inside [lo, hi), each
// with a non-zero access, and two adjacent intervals never have the same
// access (runs are maximal); everything else in [lo, hi) has no access, and
// nothing outside it ever has any.
#include <sys/mman.h>

#include <cstdint>
#include <vector>

#include "vmm/memory/interval_map.hpp"

namespace spanvm::memory {

// What x86-64 without protection keys gives a mapping of protection `prot`
// (Linux's too): PROT_WRITE and PROT_EXEC imply PROT_READ; 0 stays 0
// (PROT_NONE). Other bits are dropped.
constexpr int normalize_access(int prot) {
    prot &= PROT_READ | PROT_WRITE | PROT_EXEC;
    return prot ? (prot | PROT_READ) : 0;
}

// [start, end) got access `access` (normalized; 0: none).
struct LayoutRun {
    std::uint64_t start = 0;
    std::uint64_t end = 0;
    int access = 0;
    bool accessible() const { return access != 0; }
    bool operator==(const LayoutRun&) const = default;
};

class LayoutTable {
public:
    // Every address of [lo, hi) starts with no access.
    LayoutTable(std::uint64_t lo, std::uint64_t hi) : lo_(lo), hi_(hi) {}

    // Gives [start, end) (clamped to [lo, hi)) access normalize_access(prot)
    // and returns the parts whose access changed: ascending, maximal (no
    // two touch), all with the new access. Empty when nothing changed.
    std::vector<LayoutRun> set(std::uint64_t start, std::uint64_t end, int prot);
    // Applies runs in order; returns what changed, as set() does.
    std::vector<LayoutRun> apply(const std::vector<LayoutRun>& runs);

    // The access at addr (0 outside [lo, hi)).
    int access(std::uint64_t addr) const;
    // True iff every address of [start, start+len) has every bit of `need`
    // (len > 0, need != 0).
    bool allows(std::uint64_t start, std::uint64_t len, int need) const;
    // Readable: some mapping other than PROT_NONE covers it.
    bool accessible(std::uint64_t addr) const { return access(addr) != 0; }
    bool accessible(std::uint64_t start, std::uint64_t len) const { return allows(start, len, PROT_READ); }
    // The intervals with some access, ascending (maximal runs of one access).
    std::vector<LayoutRun> intervals() const;
    // Those that overlap [start, end), cut to it (O(log n + k), where
    // intervals() copies them all).
    std::vector<LayoutRun> intervals_in(std::uint64_t start, std::uint64_t end) const;

private:
    std::uint64_t lo_;
    std::uint64_t hi_;
    IntervalMap<int> acc_;  // start -> {end, access}
};

}  // namespace spanvm::memory
