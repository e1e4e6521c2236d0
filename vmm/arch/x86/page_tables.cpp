#include "vmm/arch/x86/page_tables.hpp"

#include <algorithm>
#include <cstring>

namespace spanvm::arch::x86 {

namespace {
constexpr uint64_t kPage = 0x1000, kHuge = 0x200000, kGiB = 1ull << 30;
constexpr uint64_t kDir = PTE_P | PTE_RW | PTE_US | PTE_A;

void set_entry(std::span<uint8_t> ram, uint64_t table, unsigned idx, uint64_t v) {
    std::memcpy(ram.data() + table + idx * 8, &v, 8);
}
uint64_t get_entry(std::span<const uint8_t> ram, uint64_t table, unsigned idx) {
    uint64_t v;
    std::memcpy(&v, ram.data() + table + idx * 8, 8);
    return v;
}
}  // namespace

Result<uint64_t> write_identity_page_tables(std::span<uint8_t> ram, const PageTableLayout& l) {
    if (l.ram_size > ram.size() || l.ram_size % kHuge || l.user_base % kHuge || l.user_base == 0 ||
        l.user_base >= l.ram_size || l.tables_gpa % kPage || l.system_end > l.user_base)
        return make_error(EINVAL, "invalid page-table layout");
    if (l.ram_size > 512 * kGiB) return make_error(EINVAL, "guest RAM above 512 GiB needs a second PDPT");
    const uint64_t pds = (l.ram_size + kGiB - 1) / kGiB;
    const uint64_t pml4 = l.tables_gpa, pdpt = pml4 + kPage, pt0 = pdpt + kPage, pd0 = pt0 + kPage;
    const uint64_t end = pd0 + pds * kPage;
    if (end > l.tables_limit)
        return make_error(ENOMEM, "page tables for {} GiB do not fit in the system area", pds);
    std::memset(ram.data() + l.tables_gpa, 0, end - l.tables_gpa);

    const uint64_t present = l.present_end ? std::min(pds, (l.present_end + kGiB - 1) / kGiB) : pds;
    set_entry(ram, pml4, 0, pdpt | kDir);
    for (uint64_t i = 0; i < present; ++i) {
        const PdptEntry e = identity_pdpt_entry(l, i);
        std::memcpy(ram.data() + e.gpa, &e.value, 8);
    }
    set_entry(ram, pd0, 0, pt0 | kDir);

    // First 2 MiB: 4 KiB pages.
    for (uint64_t a = l.null_guard_end; a < l.system_end; a += kPage) {
        uint64_t e = a | PTE_P | PTE_A | PTE_D;
        if (a == l.stub_gpa)
            e |= PTE_US;  // user R+X: `syscall` on PVM stays in ring 3 (platform notes)
        else
            e |= PTE_RW | PTE_NX;
        set_entry(ram, pt0, static_cast<unsigned>(a / kPage), e);
    }
    // User area: 2 MiB pages.
    for (uint64_t a = l.user_base; a < l.ram_size; a += kHuge) {
        uint64_t pd = pd0 + (a / kGiB) * kPage;
        set_entry(ram, pd, static_cast<unsigned>((a % kGiB) / kHuge), a | PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D | PTE_PS);
    }
    return pml4;
}

PdptEntry identity_pdpt_entry(const PageTableLayout& l, uint64_t gib) {
    const uint64_t pdpt = l.tables_gpa + kPage, pd0 = pdpt + 2 * kPage;
    return PdptEntry{pdpt + gib * 8, (pd0 + gib * kPage) | kDir};
}

std::optional<Translation> walk(std::span<const uint8_t> ram, uint64_t cr3, uint64_t gva) {
    if (gva >> 47) return std::nullopt;  // only the lower canonical half is used
    uint64_t table = cr3 & PTE_ADDR_MASK;
    bool w = true, u = true, x = true;
    for (int level = 3; level >= 0; --level) {
        if (table + kPage > ram.size()) return std::nullopt;
        uint64_t e = get_entry(ram, table, static_cast<unsigned>((gva >> (12 + 9 * level)) & 0x1FF));
        if (!(e & PTE_P)) return std::nullopt;
        w = w && (e & PTE_RW);
        u = u && (e & PTE_US);
        x = x && !(e & PTE_NX);
        if (level == 0 || (level <= 2 && (e & PTE_PS))) {
            uint64_t span = 1ull << (12 + 9 * level);
            return Translation{(e & PTE_ADDR_MASK & ~(span - 1)) | (gva & (span - 1)), w, u, x};
        }
        table = e & PTE_ADDR_MASK;
    }
    return std::nullopt;
}

}  // namespace spanvm::arch::x86
