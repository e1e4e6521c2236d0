#pragma once
// Two bits per guest page: may the guest (and the VMM on its behalf) read
// it, and write it? Mirrors the host protection of guest RAM (see
// Process::sync_host_protection): unmapped holes and PROT_NONE mappings are
// inaccessible, read-only mappings readable only. Writers hold the
// address-space lock; readers (syscall argument translation on any vCPU
// thread) use relaxed atomics. A reader racing an munmap may see the old
// state; the host protection then still catches the access (like Linux,
// where such a race ends in EFAULT or SIGSEGV).
//
// Cost follows the pages the guest maps, not --mem: the bits live in an
// anonymous mapping (zero until written), set() works a 64-bit word at a
// time and stores nothing into a word that already holds the value, and a
// summary (one bit per kChunkWords words, the writer's alone, shared by
// both bitmaps) lets clearing a large hole skip every chunk that never held
// a set bit, without reading it: an exec re-syncs all of guest RAM (24 GiB:
// 786,000 words, 6 MiB of map) and costs a scan of the chunks the old image
// used.
// Invariant: a chunk whose summary bit is clear holds only zero words, in
// the readable and in the writable bitmap.
#include <sys/mman.h>

#include <atomic>
#include <cstdint>
#include <vector>

namespace spanvm::memory {

class PageAccessMap {
public:
    // Throws std::bad_alloc when the map cannot be reserved (start-up only).
    explicit PageAccessMap(uint64_t ram_size);
    ~PageAccessMap();
    PageAccessMap(const PageAccessMap&) = delete;
    PageAccessMap& operator=(const PageAccessMap&) = delete;

    // `access`: the guest's protection there (normalized, memory::
    // normalize_access): readable when non-zero, writable with PROT_WRITE.
    void set(uint64_t gpa, uint64_t len, int access);
    bool page(uint64_t p) const { return bit(words_, p); }
    bool page_writable(uint64_t p) const { return bit(wwords_, p); }
    // True iff every page of [gpa, gpa+len) is readable (len > 0).
    bool accessible(uint64_t gpa, uint64_t len) const {
        for (uint64_t p = gpa >> 12, e = (gpa + len + 0xFFF) >> 12; p < e; ++p)
            if (!page(p)) return false;
        return true;
    }
    // True iff every page of [gpa, gpa+len) is writable (len > 0).
    bool writable(uint64_t gpa, uint64_t len) const {
        for (uint64_t p = gpa >> 12, e = (gpa + len + 0xFFF) >> 12; p < e; ++p)
            if (!page_writable(p)) return false;
        return true;
    }
    // Bytes accessible from gpa onward, at most `max`.
    uint64_t accessible_prefix(uint64_t gpa, uint64_t max) const {
        uint64_t n = 0;
        while (n < max && page((gpa + n) >> 12)) n += 0x1000 - ((gpa + n) & 0xFFF);
        return n < max ? n : max;
    }

    // Words per summary bit: one page of the map (32,768 guest pages).
    static constexpr uint64_t kChunkWords = 512;

private:
    bool bit(const std::atomic<uint64_t>* words, uint64_t p) const {
        return p < pages_ && (words[p / 64].load(std::memory_order_relaxed) >> (p % 64)) & 1;
    }
    void set_bits(std::atomic<uint64_t>* words, uint64_t p, uint64_t e, bool on);

    uint64_t pages_;
    std::vector<uint64_t> summary_;  // bit c: chunk c may hold a set bit, either bitmap (writer only)
    uint64_t map_bytes_;             // one bitmap's bytes; the mapping holds both
    std::atomic<uint64_t>* words_;   // readable
    std::atomic<uint64_t>* wwords_;  // writable (a subset of readable)
};

}  // namespace spanvm::memory
