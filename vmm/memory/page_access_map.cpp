#include "vmm/memory/page_access_map.hpp"

#include <sys/mman.h>

#include <new>

namespace spanvm::memory {

PageAccessMap::PageAccessMap(uint64_t ram_size)
    : pages_(ram_size >> 12), map_bytes_(0), words_(nullptr), wwords_(nullptr) {
    static_assert(sizeof(std::atomic<uint64_t>) == 8 && std::atomic<uint64_t>::is_always_lock_free);
    const uint64_t words = (pages_ + 63) / 64;
    map_bytes_ = (words * 8 + 0xFFF) & ~uint64_t{0xFFF};
    if (map_bytes_ == 0) map_bytes_ = 0x1000;
    void* p = ::mmap(nullptr, 2 * map_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    // Zero-filled anonymous memory is a valid array of atomics holding 0.
    words_ = static_cast<std::atomic<uint64_t>*>(p);
    wwords_ = words_ + map_bytes_ / 8;
    summary_.assign((words + kChunkWords * 64 - 1) / (kChunkWords * 64), 0);
}

PageAccessMap::~PageAccessMap() { ::munmap(words_, 2 * map_bytes_); }

void PageAccessMap::set(uint64_t gpa, uint64_t len, int access) {
    uint64_t p = gpa >> 12, e = (gpa + len + 0xFFF) >> 12;
    if (e > pages_) e = pages_;
    // Writable is cleared first and set last, so a reader never sees a page
    // writable that is not readable.
    if (!(access & PROT_WRITE)) set_bits(wwords_, p, e, false);
    set_bits(words_, p, e, access != 0);
    if (access & PROT_WRITE) set_bits(wwords_, p, e, true);
}

void PageAccessMap::set_bits(std::atomic<uint64_t>* words, uint64_t p, uint64_t e, bool on) {
    // One writer at a time (the address-space lock): a plain store of the
    // new word is enough; readers see the old or the new word.
    auto update = [&](uint64_t w, uint64_t bits) {
        std::atomic<uint64_t>& word = words[w];
        const uint64_t c = w / kChunkWords;
        if (on) {
            summary_[c / 64] |= uint64_t{1} << (c % 64);
            const uint64_t cur = word.load(std::memory_order_relaxed);
            if ((cur & bits) != bits) word.store(cur | bits, std::memory_order_relaxed);
        } else if (summary_[c / 64] >> (c % 64) & 1) {
            // Reading an untouched word maps no page; only a change writes.
            const uint64_t cur = word.load(std::memory_order_relaxed);
            if ((cur & bits) != 0) word.store(cur & ~bits, std::memory_order_relaxed);
        }
    };
    while (p < e) {
        const uint64_t w = p / 64, first = p % 64;
        if (first == 0 && e - p >= 64) {
            // Whole words: a tight loop; clearing skips chunks known clear.
            const uint64_t we = e / 64;
            for (uint64_t i = w; i < we; ++i) {
                const uint64_t c = i / kChunkWords;
                if (!on && !(summary_[c / 64] >> (c % 64) & 1)) {
                    i = (c + 1) * kChunkWords - 1;
                    continue;
                }
                update(i, ~uint64_t{0});
            }
            p = we * 64;
            continue;
        }
        const uint64_t n = (e - p < 64 - first) ? e - p : 64 - first;
        update(w, ((n == 64 ? ~uint64_t{0} : ((uint64_t{1} << n) - 1)) << first));
        p += n;
    }
}

}  // namespace spanvm::memory
