#include "vmm/process/fork_page_tables.hpp"

#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sys/auxv.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <vector>

#include "vmm/base/log.hpp"
#include "vmm/process/huge_code.hpp"

namespace spanvm::process {

namespace {

struct Walk {
    std::vector<CodeRange> huge;  // moved onto huge pages: nothing to mark
    int mem_fd = -1;
    uintptr_t vdso = 0;
    unsigned marked = 0;
};

int mark_object(dl_phdr_info* info, size_t, void* arg) {
    auto* w = static_cast<Walk*>(arg);
    if (info->dlpi_addr == w->vdso && w->vdso != 0) return 0;
    const long page = ::sysconf(_SC_PAGESIZE);
    for (ElfW(Half) i = 0; i < info->dlpi_phnum; ++i) {
        const ElfW(Phdr)& ph = info->dlpi_phdr[i];
        if (ph.p_type != PT_LOAD || (ph.p_flags & PF_W) || ph.p_memsz == 0) continue;
        // The segment's first whole page: the mapping starts there.
        const uintptr_t start = info->dlpi_addr + ph.p_vaddr;
        const uintptr_t first = (start + static_cast<uintptr_t>(page) - 1) & ~static_cast<uintptr_t>(page - 1);
        if (first >= start + ph.p_memsz) continue;
        if (std::any_of(w->huge.begin(), w->huge.end(), [&](const CodeRange& r) { return r.lo <= first && first < r.hi; }))
            continue;  // a write there would split the huge page
        // The byte it holds, written back: the page's copy is the same bytes.
        const unsigned char byte = *reinterpret_cast<const volatile unsigned char*>(first);
        if (::pwrite(w->mem_fd, &byte, 1, static_cast<off_t>(first)) == 1) ++w->marked;
    }
    return 0;
}

}  // namespace

void keep_code_mapped_across_fork() {
    static std::once_flag once;
    std::call_once(once, [] {
        Walk w;
        w.huge = moved_code_ranges();
        w.vdso = static_cast<uintptr_t>(::getauxval(AT_SYSINFO_EHDR));
        w.mem_fd = ::open("/proc/self/mem", O_RDWR | O_CLOEXEC);
        if (w.mem_fd < 0) return;
        ::dl_iterate_phdr(mark_object, &w);
        ::close(w.mem_fd);
        log::debug("fork: {} read-only segments of spanvm on huge pages, {} more keep their page-table entries in children",
                   w.huge.size(), w.marked);
    });
}

}  // namespace spanvm::process
