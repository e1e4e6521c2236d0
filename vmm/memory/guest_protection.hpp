#pragma once
// The host protection of guest RAM, kept as the guest's layout says on every
// node, and the one way to read guest pages the guest itself may not.
//
// Each page's host protection follows the guest's access to it
// (layout_table.hpp, host_prot()): holes and PROT_NONE mappings are
// PROT_NONE on the host, read-only mappings PROT_READ, writable ones
// read/write, and, where guest code runs from this mapping (native), only
// the guest's executable pages get PROT_EXEC. So a guest access the layout
// refuses faults on every node exactly where it would at the origin. The DSM engine must
// still copy out any page it holds (a page made PROT_NONE while this node
// owned it, a read-ahead neighbour): read() copies through /proc/self/mem,
// whose accesses ignore the protection (FOLL_FORCE), wherever the table
// says the guest may not read. That alias is for present pages only: the
// kernel refuses a userfaultfd fault through it (EFAULT), which is what the
// DSM wants (it copies out only pages it holds).
//
// Host calls: every page's host protection as this object last set it, or
// as its caller says it mapped it (host_mapped, open), is recorded
// (HostProtTable), and set(), apply(), restore() and open() call mprotect
// only over the part of a range that differs, one call per range: a guest
// mprotect or mmap that leaves the host as it is costs no host call, and a
// mapping put in place with its final protection needs none after it. One
// exception: where guest code runs from this mapping (host_exec), a page
// the guest may execute but not write is never trusted to be as recorded:
// the native platform's site patcher (vmm/platform/native/site_patcher.cpp)
// opens such a page read/write/exec to write a jump and leaves it so,
// without telling this record. Its protection is re-applied whenever a call
// covers it while the table still says so; once the guest's access there
// changes, that re-application has made the record true again.
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
#include "vmm/memory/host_prot_table.hpp"
#include "vmm/memory/layout_table.hpp"

namespace spanvm::memory {

class GuestProtection {
public:
    // The table covers [kUserBase, mem.size()), all inaccessible; the host
    // mapping is left as it is until the first set() or apply().
    // `host_exec`: guest code executes from this host mapping (native), so
    // PROT_EXEC follows the guest's; otherwise (KVM, whose guest page tables
    // decide execution) no page gets it. `alias`: open the /proc/self/mem
    // alias for read() (a process whose memory is under the DSM); without
    // it read() of a page the guest may not touch fails.
    GuestProtection(GuestMemory& mem, bool host_exec, bool alias);
    ~GuestProtection();
    GuestProtection(const GuestProtection&) = delete;
    GuestProtection& operator=(const GuestProtection&) = delete;

    // The host protection of a page the guest has `access` to
    // (normalize_access; 0: none).
    int host_prot(int access) const;

    // mprotect()s [start, end) to host_prot(prot), whatever the table said
    // before (the host side may have been opened temporarily:
    // Process::host_allow), and records it. Returns the runs whose recorded
    // access changed (what other nodes must hear).
    Result<std::vector<LayoutRun>> set(std::uint64_t start, std::uint64_t end, int prot);
    // Another node's changes (the origin's runs), applied in order.
    Result<void> apply(const std::vector<LayoutRun>& runs);
    // mprotect()s [start, end) back to what the table says (after a
    // temporary opening), changing nothing recorded.
    Result<void> restore(std::uint64_t start, std::uint64_t end);
    // Opens [start, end) to host protection `host_prot` (the platform's
    // full one: the VMM is about to write where the guest may not), calling
    // mprotect only where the record differs; restore() or set() closes it.
    Result<void> open(std::uint64_t start, std::uint64_t end, int host_prot);
    // The caller has just replaced the host mapping of [start, end) (mmap
    // MAP_FIXED into guest RAM) with one of protection `host_prot`, or
    // HostProtTable::kUnknown where it does not know what is there now (a
    // failed mmap). Records it; changes nothing else.
    void host_mapped(std::uint64_t start, std::uint64_t end, int host_prot);
    // The caller has replaced all of [start, end) with fresh memory of
    // protection `host_prot` for a new program image (execve on one host):
    // the guest has nothing mapped there yet, and no page there is one the
    // site patcher opened. Records both, so the image's first sync calls
    // mprotect only where its protection differs (no re-application over
    // the old image's code).
    void renewed(std::uint64_t start, std::uint64_t end, int host_prot);

    // (Re)opens the /proc/self/mem alias: a process about to put its memory
    // under a DSM, which may be a fork child whose inherited alias still
    // reads its parent's memory (the file is bound to the opener's mm).
    Result<void> open_alias();

    // The host mapping of [start, end) is known to have host protection
    // `host_prot` throughout (the record; see "Host calls").
    bool host_known(std::uint64_t start, std::uint64_t end, int host_prot) const;
    // The guest's access over [start, end) when it is one access throughout
    // (0: none), else -1.
    int uniform_access(std::uint64_t start, std::uint64_t end) const;

    // The accessible runs as the table has them now (what a node that
    // joins late must apply to catch up).
    std::vector<LayoutRun> accessible_runs() const;

    // Host addresses inside (host, host + len) where the guest's protection
    // changes, ascending: the host mapping may split into VMAs there
    // (UFFDIO_COPY must stay inside one). Empty outside guest RAM.
    std::vector<const std::uint8_t*> protection_edges(const std::uint8_t* host, std::uint64_t len) const;

    // Readable by the guest.
    bool accessible(std::uint64_t gpa) const;
    // Every byte of [gpa, gpa+len) (len > 0).
    bool accessible(std::uint64_t gpa, std::uint64_t len) const;
    // The page at host address `host` (inside guest RAM) is readable by the
    // guest.
    bool accessible_host(const std::uint8_t* host) const;
    // Every byte of [gpa, gpa+len) writable by the guest (len > 0).
    bool writable(std::uint64_t gpa, std::uint64_t len) const;
    // The pages of [start, end) present in this host's memory (mincore)
    // that are not all zero, read through the alias where the guest may
    // not read. For a discard that must leave nothing behind.
    Result<std::vector<std::uint64_t>> nonzero_pages(std::uint64_t start, std::uint64_t end) const;
    // Copies len bytes at host address `host` (inside guest RAM, inside one
    // page) to `out`: a plain copy where the guest may read them, else
    // through the /proc/self/mem alias.
    Result<void> read(const std::uint8_t* host, void* out, std::size_t len) const;

private:
    // read() of a run of present pages (false where it fails).
    bool read_run(std::uint64_t gpa, std::uint8_t* out, std::size_t len) const;
    // Brings the host protection of [start, end) to host_prot(access): one
    // mprotect over the span that differs from host_ (see "Host calls"),
    // none when nothing does. Caller holds mu_ exclusively; table_ still
    // has the access before the change.
    Result<void> protect_locked(std::uint64_t start, std::uint64_t end, int access);
    // Same, to host protection `hp` itself.
    Result<void> protect_host_locked(std::uint64_t start, std::uint64_t end, int hp);

    GuestMemory& mem_;
    const bool host_exec_;
    int mem_fd_ = -1;  // /proc/self/mem, opened once at construction
    mutable std::shared_mutex mu_;
    LayoutTable table_;
    HostProtTable host_;  // what the host mapping is, as far as known (under mu_)
};

}  // namespace spanvm::memory
