#include "vmm/process/huge_code.hpp"

#include <elf.h>
#include <link.h>
#include <sys/mman.h>
#include <sys/prctl.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "vmm/memory/layout.hpp"

namespace spanvm::process {

namespace {

constexpr uintptr_t kHugePage = uintptr_t{2} << 20;  // Intel SDM: a 2-MByte page (a PDE with PS = 1)

uintptr_t align_down(uintptr_t v, uintptr_t a) { return v & ~(a - 1); }
uintptr_t align_up(uintptr_t v, uintptr_t a) { return align_down(v + a - 1, a); }

bool huge_pages_offered() {
    if (const char* e = std::getenv("SPANVM_HUGE_CODE"); e && std::strcmp(e, "off") == 0) return false;
    if (::prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) == 1) return false;
    std::ifstream f("/sys/kernel/mm/transparent_hugepage/enabled");
    std::string line;
    std::getline(f, line);
    return line.find("[always]") != std::string::npos || line.find("[madvise]") != std::string::npos;
}

// Moves [lo, hi) (2 MiB-aligned; the bytes of [lo, data_end) are the
// segment's) onto huge pages with protection `prot`. False: left as it was.
bool move_range(uintptr_t lo, uintptr_t hi, uintptr_t data_end, int prot) {
    const size_t len = hi - lo;
    void* raw = ::mmap(nullptr, len + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                       -1, 0);
    if (raw == MAP_FAILED) return false;
    const uintptr_t r = reinterpret_cast<uintptr_t>(raw);
    const uintptr_t a = align_up(r, kHugePage);
    if (a > r) ::munmap(raw, a - r);
    if (r + len + kHugePage > a + len) ::munmap(reinterpret_cast<void*>(a + len), r + len + kHugePage - (a + len));
    void* copy = reinterpret_cast<void*>(a);
    if (::madvise(copy, len, MADV_HUGEPAGE) != 0) {
        ::munmap(copy, len);
        return false;
    }
    std::memcpy(copy, reinterpret_cast<const void*>(lo), std::min(hi, data_end) - lo);
    // The mremap that follows runs code that may be inside [lo, hi): it
    // returns into the copy, which holds the same bytes.
    if (::mprotect(copy, len, prot) != 0 ||
        ::mremap(copy, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, reinterpret_cast<void*>(lo)) == MAP_FAILED) {
        ::munmap(copy, len);
        return false;
    }
    return true;
}

std::vector<CodeRange> g_moved;  // written once, at start-up, before any other thread

int move_segments(dl_phdr_info* info, size_t, void* arg) {
    auto* moved = static_cast<std::vector<CodeRange>*>(arg);
    for (ElfW(Half) i = 0; i < info->dlpi_phnum; ++i) {
        const ElfW(Phdr)& ph = info->dlpi_phdr[i];
        if (ph.p_type != PT_LOAD || (ph.p_flags & PF_W) || ph.p_memsz == 0) continue;
        const uintptr_t start = info->dlpi_addr + ph.p_vaddr;
        const uintptr_t end = memory::layout::page_align_up(start + ph.p_memsz);  // mapped up to here
        const uintptr_t lo = align_up(start, kHugePage);
        uintptr_t hi = align_up(end, kHugePage);
        if (hi > end) {
            // The last huge page reaches past the segment: only into a gap.
            void* probe = ::mmap(reinterpret_cast<void*>(end), hi - end, PROT_NONE,
                                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
            if (probe != reinterpret_cast<void*>(end)) {
                if (probe != MAP_FAILED) ::munmap(probe, hi - end);
                hi = align_down(end, kHugePage);
            }
        }
        if (hi <= lo) continue;
        const int prot = PROT_READ | ((ph.p_flags & PF_X) ? PROT_EXEC : 0);
        if (move_range(lo, hi, end, prot))
            moved->push_back({lo, hi});
        else if (hi > end)
            ::munmap(reinterpret_cast<void*>(end), hi - end);  // the gap's placeholder
    }
    return 1;  // the first object is the executable
}

}  // namespace

uint64_t code_on_huge_pages() {
    if (!huge_pages_offered()) return 0;
    ::dl_iterate_phdr(move_segments, &g_moved);
    uint64_t bytes = 0;
    for (const CodeRange& r : g_moved) bytes += r.hi - r.lo;
    return bytes;
}

const std::vector<CodeRange>& moved_code_ranges() { return g_moved; }

}  // namespace spanvm::process
