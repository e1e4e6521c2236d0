#include "vmm/process/loader/vdso.hpp"

#include <cstring>

#include "vmm/memory/layout.hpp"
#include "vmm/process/loader/elf_file.hpp"

extern "C" const uint8_t spanvm_vdso_image_start[];
extern "C" const uint8_t spanvm_vdso_image_end[];

namespace spanvm::process {

static_assert(sizeof(spanvm_vvar) <= memory::layout::kPageSize);

std::span<const uint8_t> vdso_image() {
    return {spanvm_vdso_image_start, static_cast<size_t>(spanvm_vdso_image_end - spanvm_vdso_image_start)};
}

Result<InstalledVdso> install_vdso(AddressSpace& as, memory::GuestMemory& mem) {
    const auto image = vdso_image();
    auto elf = ElfFile::parse(image, "[vdso]");
    if (!elf) return elf.error();
    // The image is linked at 0 with its ELF header at the start of its only
    // PT_LOAD (what glibc's setup_vdso() expects) and the vvar page at -4096.
    const auto span = elf->image_span();
    if (span.start != 0 || !elf->position_independent())
        return make_error(EINVAL, "the built-in vDSO image is not linked at 0");
    const uint64_t len = memory::layout::kPageSize + span.size();
    auto m = as.map(0, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS);
    if (!m) return make_error(ENOMEM, "no room for the vDSO in guest memory: {}", m.error().message);
    InstalledVdso out;
    out.vvar_addr = m->addr;
    out.base = m->addr + memory::layout::kPageSize;
    out.end = m->addr + memory::layout::page_align_up(len);
    const LoadPlan plan = elf->plan_load(out.base);
    if (auto r = apply_load_plan(plan, image, std::span<uint8_t>(mem.host_base(), mem.size())); !r)
        return make_error(ENOMEM, "cannot copy the vDSO into guest memory: {}", r.error().message);
    for (const auto& pr : plan.protections) {
        int prot = ((pr.flags & kSegmentRead) ? PROT_READ : 0) | ((pr.flags & kSegmentExec) ? PROT_EXEC : 0);
        if (auto r = as.protect(pr.range.start, pr.range.size(), prot); !r)
            return make_error(EINVAL, "cannot protect the vDSO image: {}", r.error().message);
    }
    uint8_t* page = mem.host_ptr(out.vvar_addr, memory::layout::kPageSize);
    if (!page) return make_error(ENOMEM, "vvar page outside guest memory");
    std::memset(page, 0, memory::layout::kPageSize);
    out.vvar = reinterpret_cast<spanvm_vvar*>(page);
    return out;
}

}  // namespace spanvm::process
