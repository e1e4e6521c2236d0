#include <doctest/doctest.h>

#include <sys/mman.h>
#include <sys/sysmacros.h>

#include <string>
#include <vector>

#include "vmm/process/syscalls/proc_maps.hpp"

using namespace spanvm::process;

namespace {
Vma anon(uint64_t s, uint64_t e, int prot, VmaKind kind = VmaKind::anonymous) {
    Vma v;
    v.start = s;
    v.end = e;
    v.prot = prot;
    v.kind = kind;
    return v;
}
}  // namespace

TEST_CASE("proc_maps: the kernel's format, name column and all") {
    Vma f = anon(0x400000, 0x401000, PROT_READ | PROT_EXEC, VmaKind::file);
    f.file = FileRef{3, 0x2000, "/usr/bin/cat", makedev(0xfe, 0), 247134};
    const std::vector<Vma> vmas = {
        f,
        anon(0x600000, 0x621000, PROT_READ | PROT_WRITE, VmaKind::heap),
        anon(0x700000, 0x702000, PROT_READ | PROT_WRITE),
        anon(0x7ff000, 0x800000, PROT_NONE),
        anon(0x5ff000000, 0x5ff021000, PROT_READ | PROT_WRITE, VmaKind::stack),
    };
    const std::string want =
        "00400000-00401000 r-xp 00002000 fe:00 247134                             /usr/bin/cat\n"
        "00600000-00621000 rw-p 00000000 00:00 0                                  [heap]\n"
        "00700000-00702000 rw-p 00000000 00:00 0 \n"
        "007ff000-00800000 ---p 00000000 00:00 0 \n"
        "5ff000000-5ff021000 rw-p 00000000 00:00 0                                [stack]\n";
    CHECK(render_proc_maps(vmas) == want);
}

TEST_CASE("proc_maps: shared mappings; named ranges split an anonymous VMA") {
    Vma s = anon(0x10000, 0x12000, PROT_READ | PROT_WRITE);
    s.flags = MAP_SHARED | MAP_ANONYMOUS;
    // One private VMA holding an image's two file pages, a bss page, then
    // the vDSO pair (as merged bookkeeping may hold them).
    const std::vector<Vma> vmas = {s, anon(0x20000, 0x26000, PROT_READ)};
    const std::vector<ImagePages> names = {
        {0x20000, 0x22000, 0x3000, makedev(8, 1), 99, "/lib/ld.so"},
        {0x23000, 0x24000, 0, 0, 0, "[vvar]"},
        {0x24000, 0x26000, 0, 0, 0, "[vdso]"},
    };
    CHECK(render_proc_maps(vmas, names) ==
          "00010000-00012000 rw-s 00000000 00:00 0 \n"
          "00020000-00022000 r--p 00003000 08:01 99                                 /lib/ld.so\n"
          "00022000-00023000 r--p 00000000 00:00 0 \n"
          "00023000-00024000 r--p 00000000 00:00 0                                  [vvar]\n"
          "00024000-00026000 r--p 00000000 00:00 0                                  [vdso]\n");
    // A shared VMA is never split.
    CHECK(render_proc_maps({s}, {{0x10000, 0x11000, 0, 0, 0, "[x]"}}) == "00010000-00012000 rw-s 00000000 00:00 0 \n");
}

TEST_CASE("proc_maps: which paths are the caller's own maps") {
    CHECK(is_own_maps_path("/proc/self/maps", 42));
    CHECK(is_own_maps_path("/proc/thread-self/maps", 42));
    CHECK(is_own_maps_path("/proc/42/maps", 42));
    CHECK_FALSE(is_own_maps_path("/proc/43/maps", 42));
    CHECK_FALSE(is_own_maps_path("/proc/self/smaps", 42));
    CHECK_FALSE(is_own_maps_path("/proc/self/maps/x", 42));
}
