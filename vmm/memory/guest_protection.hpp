#pragma once
// The host protection of guest RAM, kept as the guest's layout says on every
// node, and the one way to read guest pages the guest itself may not.
//
// Accessible pages (layout_table.hpp) are mapped with the platform's
// protection (read/write, plus exec on native); holes and PROT_NONE
// mappings are PROT_NONE on the host, so a guest access there faults on
// every node exactly where it would at the origin. The DSM engine must
// still copy out any page it holds (a page made PROT_NONE while this node
// owned it, a read-ahead neighbour): read() copies through /proc/self/mem,
// whose accesses ignore the protection (FOLL_FORCE), wherever the table
// says the guest may not read. That alias is for present pages only: the
// kernel refuses a userfaultfd fault through it (EFAULT), which is what the
// DSM wants (it copies out only pages it holds).
//
// Lock: mu_ (leaf). Exclusive while a range's host protection and table
// entry change together (set, apply); shared around a copy in read(), so a
// page the table calls accessible stays mapped for the whole copy. The DSM
// calls read() under its own page lock (UffdRegion's stripe), never the
// other way round. Callers of set() and apply() that must not race each
// other (the origin's mm syscalls hold Process::aspace_mu_; a node's only
// writer is its transport I/O thread) serialise themselves.
#include <cstddef>
#include <cstdint>
#include <shared_mutex>
#include <vector>

#include "vmm/base/result.hpp"
#include "vmm/memory/guest_memory.hpp"
#include "vmm/memory/layout_table.hpp"

namespace spanvm::memory {

class GuestProtection {
public:
    // The table covers [kUserBase, mem.size()), all inaccessible; the host
    // mapping is left as it is until the first set() or apply().
    // `accessible_prot` is what an accessible page gets (Platform::host_prot).
    // `alias`: open the /proc/self/mem alias for read() (a process whose
    // memory is under the DSM); without it read() of a page the guest may
    // not touch fails.
    GuestProtection(GuestMemory& mem, int accessible_prot, bool alias);
    ~GuestProtection();
    GuestProtection(const GuestProtection&) = delete;
    GuestProtection& operator=(const GuestProtection&) = delete;

    // mprotect()s [start, end) to accessible_prot or PROT_NONE, whatever the
    // table said before (the host side may have been opened temporarily:
    // Process::host_allow), and records it. Returns the runs whose recorded
    // state changed (what other nodes must hear).
    Result<std::vector<LayoutRun>> set(std::uint64_t start, std::uint64_t end, bool accessible);
    // Another node's changes (the origin's runs), applied in order.
    Result<void> apply(const std::vector<LayoutRun>& runs);
    // mprotect()s [start, end) back to what the table says (after a
    // temporary opening), changing nothing recorded.
    Result<void> restore(std::uint64_t start, std::uint64_t end);

    // (Re)opens the /proc/self/mem alias: a process about to put its memory
    // under a DSM, which may be a fork child whose inherited alias still
    // reads its parent's memory (the file is bound to the opener's mm).
    Result<void> open_alias();

    // The accessible runs as the table has them now (what a node that
    // joins late must apply to catch up).
    std::vector<LayoutRun> accessible_runs() const;

    bool accessible(std::uint64_t gpa) const;
    // Every byte of [gpa, gpa+len) (len > 0).
    bool accessible(std::uint64_t gpa, std::uint64_t len) const;
    // Copies len bytes at host address `host` (inside guest RAM, inside one
    // page) to `out`: a plain copy where the guest may read them, else
    // through the /proc/self/mem alias.
    Result<void> read(const std::uint8_t* host, void* out, std::size_t len) const;

private:
    Result<void> protect_locked(std::uint64_t start, std::uint64_t end, bool accessible);

    GuestMemory& mem_;
    const int prot_;
    int mem_fd_ = -1;  // /proc/self/mem, opened once at construction
    mutable std::shared_mutex mu_;
    LayoutTable table_;
};

}  // namespace spanvm::memory
