#pragma once
// Long-mode 4-level page tables for the process-mode guest (pure).
//
// Built once at start-up into guest RAM; while vCPUs run, the only edit is a
// PDPT entry going from absent to present (identity_pdpt_entry). The
// mapping is the identity (GVA == GPA) described in vmm/memory/layout.hpp:
// the first 2 MiB use 4 KiB pages (NULL guard absent, system pages
// supervisor-only, the entry-stub page user R+X), the rest of RAM uses 2 MiB
// user RWX pages, and nothing at or above ram_size is present.
// A, D bits are preset so neither the CPU nor KVM's emulator need to write them.
#include <cstdint>
#include <optional>
#include <span>

#include "vmm/base/result.hpp"

namespace spanvm::arch::x86 {

inline constexpr uint64_t PTE_P = 1ull << 0;
inline constexpr uint64_t PTE_RW = 1ull << 1;
inline constexpr uint64_t PTE_US = 1ull << 2;
inline constexpr uint64_t PTE_A = 1ull << 5;
inline constexpr uint64_t PTE_D = 1ull << 6;
inline constexpr uint64_t PTE_PS = 1ull << 7;
inline constexpr uint64_t PTE_NX = 1ull << 63;
inline constexpr uint64_t PTE_ADDR_MASK = 0x000FFFFFFFFFF000ull;

struct PageTableLayout {
    uint64_t ram_size = 0;
    uint64_t tables_gpa = 0;       // PML4, PDPT, PT0, then one PD per GiB
    uint64_t tables_limit = 0;     // first GPA the tables may not use
    uint64_t null_guard_end = 0;   // [0, null_guard_end) absent
    uint64_t stub_gpa = 0;         // the one user-executable system page
    uint64_t system_end = 0;       // [null_guard_end, system_end) supervisor pages
    uint64_t user_base = 0;        // 2 MiB aligned; [user_base, ram_size) user RWX
    // PDPT entries are written (present) for the GiBs below present_end,
    // rounded up; 0 = all of RAM. Every PD is written either way; a GiB
    // whose PDPT entry is absent raises #PF, as beyond ram_size.
    uint64_t present_end = 0;
};

// Returns the CR3 value (the PML4's GPA).
Result<uint64_t> write_identity_page_tables(std::span<uint8_t> ram, const PageTableLayout& l);

// The PDPT entry that maps GiB `gib` of the tables write_identity_page_tables
// wrote for `l`, and the GPA of that entry: a platform makes a GiB present
// later by storing `value` at `gpa` (a not-present entry is never cached by
// the TLB, so no shootdown is needed).
struct PdptEntry {
    uint64_t gpa = 0;
    uint64_t value = 0;
};
PdptEntry identity_pdpt_entry(const PageTableLayout& l, uint64_t gib);

struct Translation {
    uint64_t gpa = 0;
    bool writable = false, user = false, executable = false;
};
// Software walk of the tables in `ram`, for tests and fault reports.
std::optional<Translation> walk(std::span<const uint8_t> ram, uint64_t cr3, uint64_t gva);

}  // namespace spanvm::arch::x86
