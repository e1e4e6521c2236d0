#pragma once
// The mapping windows of layout_sim --windows --maps (docs/dsm-protocol.md
// F9, "mapping windows"; the node's rule is the real NodeMapWindow of
// vmm/cluster/node_map_window). Over the heap area of layout_sim_heap.hpp
// (one address space: the break at the bottom, mappings above it):
//  * the origin's grant: kMapWindowPages where the next mmap(NULL) would go
//    (the top of the highest free run, as Linux places top-down), granted
//    again once fewer than kMapRefillPages of it are free; the window sent
//    with each Resume to the process's only thread is the grant as free
//    *now*, [lo, min(hi, free_until(lo))) (map-window-stale: as granted);
//  * node 1's calls mmap(NULL, len, prot, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)
//    (sometimes not answerable: a shared or executable one), answered by
//    NodeMapWindow inside the window or forwarded, where the origin places
//    them top-down (so, often, inside the window it granted);
//  * the executor makes the owed mappings (after the owed break, before it
//    handles the Trap), each of which must find its pages free.
// The heap window of the same Resume stops below the mapping window (both
// are free, so without that they may overlap: map-over-heap).
// Checked here: (b) a mapping node 1 makes covers only pages the origin has
// free and no page another node-made change opened and the origin has not
// applied; an owed mapping lands only on pages the origin has free; (a) the
// origin handles a Trap only once every mapping it carried is in the
// origin's address space. (c) (node 1's host protection equals the origin's
// when a windowed thread continues) is layout_sim's check_agree.
#include <sys/mman.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "tests/sim/layout_sim_heap.hpp"
#include "vmm/cluster/node_map_window.hpp"

namespace spanvm::sim {

// A grant's size and the free part below which it is granted again (16 MiB
// and 4 MiB in spanvm), in pages.
inline constexpr std::uint64_t kMapWindowPages = 3;
inline constexpr std::uint64_t kMapRefillPages = 2;

// A node-1 thread's mmap(NULL) that went to the origin: `pages` pages with
// `prot`, placed there top-down (0 pages: none).
struct ForwardedMmap {
    std::uint64_t pages = 0;
    int prot = 0;
};

class MapWindows {
public:
    using Report = std::function<void(std::string)>;
    // heap: the origin's address space; node_prot: node 1's host protection
    // of it; pending: per page, the node-1 thread that opened it and whose
    // change the origin has not applied yet (0: none). Shared with
    // layout_sim's heap windows.
    MapWindows(OriginHeap& heap, std::vector<int>& node_prot, std::vector<int>& pending, Report fail, Report note)
        : heap_(heap), node_prot_(node_prot), pending_(pending), fail_(std::move(fail)), note_(std::move(note)) {}

    // The first page at or above `p` that the origin does not have free (or
    // the end of the area): AddressSpace::free_until.
    std::uint64_t free_until(std::uint64_t p) const {
        while (p < heap_.pages() && heap_.owner[p] == Owner::free) ++p;
        return p;
    }

    // The mapping window for a Resume to the process's only thread, or none
    // (nothing free). stale (map-window-stale): the grant as it was made,
    // not as it is free now.
    std::optional<cluster::MapWindow> offer(bool stale) {
        std::uint64_t left = lo_ < hi_ ? std::min(hi_, free_until(lo_)) : lo_;
        if (left - lo_ < kMapRefillPages) {
            auto run = highest_free_run(1);
            if (!run) {
                lo_ = hi_ = 0;
                return std::nullopt;
            }
            lo_ = run->second - std::min(kMapWindowPages, run->second - run->first);
            hi_ = left = run->second;
            ++grants_;
            note_(fmt::format("origin: mapping window granted, pages {}..{}", lo_, hi_));
        }
        return cluster::MapWindow{OriginHeap::addr_of(lo_), OriginHeap::addr_of(stale ? hi_ : left)};
    }

    // Node 1's thread `tid` calls mmap(NULL, ...): true when NodeMapWindow
    // answered it (the pages are open at node 1, the mapping owed);
    // otherwise `fwd` is the call the Trap carries to the origin.
    bool node_call(int tid, cluster::NodeMapWindow& nm, std::mt19937_64& rng, ForwardedMmap& fwd) {
        const std::uint64_t pages = rng() % 4 == 0 ? 2 : 1;
        const std::uint64_t len = pages * kPage - (rng() % 2 ? rng() % kPage : 0);  // unaligned, at times
        const int prot = rng() % 3 ? PROT_READ | PROT_WRITE : PROT_READ;
        std::uint64_t flags = MAP_PRIVATE | MAP_ANONYMOUS | (rng() % 4 == 0 ? MAP_NORESERVE : 0);
        std::uint64_t xprot = 0;
        const unsigned other = static_cast<unsigned>(rng() % 10);
        if (other == 0) flags = MAP_SHARED | MAP_ANONYMOUS;  // the origin's (host-shared memory)
        if (other == 1) xprot = PROT_EXEC;
        const std::uint64_t no_fd = static_cast<std::uint64_t>(-1);
        if (auto a = nm.answer(0, len, static_cast<std::uint64_t>(prot) | xprot, flags, no_fd, 0)) {
            note_(fmt::format("node 1 thread {}: mmap({:#x}) = {:#x} here, opens {:#x}..{:#x}", tid, len, a->ret,
                              a->open_from, a->open_to));
            if (a->open_from < kHeapBase || a->open_to > OriginHeap::addr_of(heap_.pages()) ||
                a->open_from % kPage || a->ret != a->open_from || a->open_to - a->open_from != page_align(len))
                fail_(fmt::format("node 1's thread {}: mmap({:#x}) answered with pages {:#x}..{:#x}, not its own", tid,
                                  len, a->open_from, a->open_to));
            else
                for (std::uint64_t p = OriginHeap::page_of(a->open_from); p < OriginHeap::page_of(a->open_to); ++p) {
                    if (heap_.owner[p] != Owner::free)  // (b)
                        fail_(fmt::format("(b) node 1's thread {} maps page {} while the origin has it in use", tid,
                                          p));
                    if (pending_[p])
                        fail_(fmt::format("(b) node 1's thread {} maps page {}, which thread {} opened and the origin "
                                          "has not applied yet",
                                          tid, p, pending_[p]));
                    node_prot_[p] = static_cast<int>(a->prot);
                    pending_[p] = tid;
                }
            ++answered_;
            return true;
        }
        fwd = ForwardedMmap{pages, prot};
        return false;
    }

    // The origin's mmap(NULL) of `f.pages` pages: top-down first fit (an
    // empty effect: ENOMEM).
    PageEffect place(const ForwardedMmap& f) {
        auto run = highest_free_run(f.pages);
        if (!run) return {};
        const PageEffect e{run->second - f.pages, run->second, f.prot};
        heap_.set(e, Owner::mapped);
        return e;
    }

    // The executor of thread `tid` makes the mappings its node made (the
    // same mmap at that address, MAP_FIXED_NOREPLACE, then this host's
    // protection), in order. (b): each finds its pages free.
    void apply_owed(int tid, const std::vector<cluster::OwedMap>& maps) {
        for (const auto& m : maps) {
            const PageEffect e = pages_of(m);
            for (std::uint64_t p = e.from; p < e.to; ++p)
                if (p >= heap_.pages() || heap_.owner[p] != Owner::free)
                    fail_(fmt::format("(b) thread {}'s owed mapping at {:#x} covers page {}, which the origin has in "
                                      "use",
                                      tid, m.addr, p));
            const PageEffect in{e.from, std::min(e.to, heap_.pages()), e.prot};
            heap_.set(in, Owner::mapped);
            for (std::uint64_t p = in.from; p < in.to; ++p)
                if (pending_[p] == tid) pending_[p] = 0;
            ++applied_;
            note_(fmt::format("thread {}: owed mapping {:#x}+{:#x} made at the origin", tid, m.addr, m.len));
        }
    }

    // (a): the origin handles thread `tid`'s Trap only once every mapping
    // the Trap carried is in its address space, with the node's protection.
    void check_made(int tid, const std::vector<cluster::OwedMap>& maps) {
        for (const auto& m : maps) {
            const PageEffect e = pages_of(m);
            for (std::uint64_t p = e.from; p < e.to && p < heap_.pages(); ++p)
                if (heap_.owner[p] != Owner::mapped || heap_.prot[p] != e.prot) {
                    fail_(fmt::format("(a) the origin handles thread {}'s call without the mapping at {:#x} node 1's "
                                      "thread made before it (page {} is not mapped there)",
                                      tid, m.addr, p));
                    return;
                }
        }
    }

    std::uint64_t grants() const { return grants_; }
    std::uint64_t answered() const { return answered_; }
    std::uint64_t applied() const { return applied_; }

private:
    static std::uint64_t page_align(std::uint64_t len) { return (len + kPage - 1) / kPage * kPage; }
    static PageEffect pages_of(const cluster::OwedMap& m) {
        const std::uint64_t from = OriginHeap::page_of(m.addr);
        return PageEffect{from, from + page_align(m.len) / kPage, static_cast<int>(m.prot)};
    }
    // The highest run of at least `n` free pages, [first, second): where a
    // top-down mmap(NULL) goes.
    std::optional<std::pair<std::uint64_t, std::uint64_t>> highest_free_run(std::uint64_t n) const {
        std::uint64_t hi = heap_.pages();
        while (hi > 0) {
            while (hi > 0 && heap_.owner[hi - 1] != Owner::free) --hi;
            std::uint64_t lo = hi;
            while (lo > 0 && heap_.owner[lo - 1] == Owner::free) --lo;
            if (hi - lo >= n && hi > lo) return std::make_pair(lo, hi);
            hi = lo;
        }
        return std::nullopt;
    }

    OriginHeap& heap_;
    std::vector<int>& node_prot_;
    std::vector<int>& pending_;
    Report fail_, note_;
    std::uint64_t lo_ = 0, hi_ = 0;  // the grant, pages [lo_, hi_) (lo_ == hi_: none)
    std::uint64_t grants_ = 0, answered_ = 0, applied_ = 0;
};

}  // namespace spanvm::sim
