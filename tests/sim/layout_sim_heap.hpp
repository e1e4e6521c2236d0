#pragma once
// The heap area of layout_sim --windows (docs/dsm-protocol.md F8, "heap
// windows"; the node's rule is vmm/cluster/node_brk): `pages` pages from
// kHeapBase, the program break inside them, as the origin's address space
// has them (who uses each page, and its host protection). brk() here is the
// origin's: growth over pages that are not all free fails (the break stays,
// as Linux's brk does when the range is in use), a shrink frees the pages
// above the new break; the other mm calls map or unmap one page. Each
// returns the change of host protection it made (empty: none), which node 1
// must follow. Pure: the simulator does the checking.
#include <cstdint>
#include <random>
#include <vector>

#include "vmm/memory/layout.hpp"

namespace spanvm::sim {

inline constexpr std::uint64_t kHeapBase = 0x10000000;
inline constexpr std::uint64_t kPage = memory::layout::kPageSize;

// Pages [from, to) (indexes from kHeapBase) set to protection `prot`.
struct PageEffect {
    std::uint64_t from = 0, to = 0;
    int prot = 0;
    bool empty() const { return from >= to; }
};

inline constexpr int kHeapProt = 3;    // read-write: the heap
inline constexpr int kMappedProt = 1;  // another mapping (read-only, to tell it apart)

enum class Owner : std::uint8_t { free, heap, mapped };

struct OriginHeap {
    std::uint64_t brk = kHeapBase + kPage / 2;  // page 0 is heap from the start
    std::vector<Owner> owner;
    std::vector<int> prot;

    explicit OriginHeap(unsigned pages) : owner(pages, Owner::free), prot(pages, 0) {
        owner[0] = Owner::heap;
        prot[0] = kHeapProt;
    }
    std::uint64_t pages() const { return owner.size(); }
    static std::uint64_t page_of(std::uint64_t addr) { return (addr - kHeapBase) / kPage; }
    static std::uint64_t addr_of(std::uint64_t page) { return kHeapBase + page * kPage; }
    // The first page above the break.
    std::uint64_t top() const { return page_of(memory::layout::page_align_up(brk)); }
    // A window's limit: the addresses from the break up to here are free.
    std::uint64_t limit() const {
        std::uint64_t p = top();
        while (p < pages() && owner[p] == Owner::free) ++p;
        return addr_of(p);
    }
    void set(const PageEffect& e, Owner o) {
        for (std::uint64_t p = e.from; p < e.to; ++p) {
            owner[p] = o;
            prot[p] = e.prot;
        }
    }
    // True when brk(addr) would grow over pages that are not all free.
    bool growth_blocked(std::uint64_t addr) const {
        const std::uint64_t to = page_of(memory::layout::page_align_up(addr));
        if (to > pages()) return true;
        for (std::uint64_t p = top(); p < to; ++p)
            if (owner[p] != Owner::free) return true;
        return false;
    }
    // brk(addr): the protection change (the break moves unless it fails).
    PageEffect brk_call(std::uint64_t addr) {
        if (addr <= kHeapBase) return {};  // below the start: fails (brk(0) asks)
        PageEffect e;
        if (addr >= brk) {
            if (growth_blocked(addr)) return {};
            e = PageEffect{top(), page_of(memory::layout::page_align_up(addr)), kHeapProt};
            set(e, Owner::heap);
        } else {
            e = PageEffect{page_of(memory::layout::page_align_up(addr)), top(), 0};
            set(e, Owner::free);
        }
        brk = addr;
        return e;
    }
    // mmap of one free page above the break (half the time the first one,
    // where node-grown breaks go), or munmap of a mapped page.
    PageEffect map_or_unmap(std::mt19937_64& rng) {
        std::vector<std::uint64_t> free_pages, mapped;
        for (std::uint64_t p = top(); p < pages(); ++p)
            (owner[p] == Owner::free ? free_pages : mapped).push_back(p);
        std::erase_if(mapped, [&](std::uint64_t p) { return owner[p] != Owner::mapped; });
        const bool unmap = !mapped.empty() && (free_pages.empty() || rng() % 3 == 0);
        PageEffect e;
        if (unmap) {
            const std::uint64_t p = mapped[rng() % mapped.size()];
            e = PageEffect{p, p + 1, 0};
            set(e, Owner::free);
        } else if (!free_pages.empty()) {
            const std::uint64_t p = rng() % 2 ? free_pages.front() : free_pages[rng() % free_pages.size()];
            e = PageEffect{p, p + 1, kMappedProt};
            set(e, Owner::mapped);
        }
        return e;
    }
};

}  // namespace spanvm::sim
