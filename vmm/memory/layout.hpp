#pragma once
// Guest-physical (and, in process mode, guest-virtual) layout.
//
// Process mode identity-maps guest-virtual onto guest-physical: a guest
// pointer IS an offset into guest RAM, so translating a syscall argument is a
// bounds check and an add, on every node. The guest's address space is
// therefore [0, ram_size):
//
//   0x0000_0000 .. 0x0000_FFFF   not present            (NULL guard: #PF)
//   0x0001_0000 .. 0x001F_FFFF   system area, 4 KiB pages, supervisor-only
//                                except the entry-stub page (user R+X):
//        +0x0000  GDT      +0x1000 IDT      +0x2000 TSS
//        +0x3000  entry stubs (syscall + exception vectors)   user, RX
//        +0x4000  exception stack (RSP0/IST1), 16 KiB          supervisor RW
//        +0x8000  page tables (PML4, PDPT, PDs, first PT)      supervisor RW
//   0x0020_0000 .. ram_size      user area: 2 MiB pages, user RWX
//                                (ELF images, brk heap, mmap area, stack)
//   >= ram_size                  not present (#PF)
//
// Departure from Linux: inside the user area every page is present and
// writable in the guest page tables; mprotect/PROT_NONE are kept as
// bookkeeping in AddressSpace only. Page tables are built once; while vCPUs
// run a GiB's PDPT entry may only go from absent to present (KVM registers
// guest RAM a GiB at a time), so no TLB shootdown protocol is needed.
#include <cstdint>

namespace spanvm::memory::layout {

inline constexpr uint64_t kPageSize = 0x1000;
inline constexpr uint64_t kHugePageSize = 0x200000;

inline constexpr uint64_t kNullGuardEnd = 0x10000;
inline constexpr uint64_t kSystemBase = 0x10000;
inline constexpr uint64_t kGdtGpa = kSystemBase + 0x0000;
inline constexpr uint64_t kIdtGpa = kSystemBase + 0x1000;
inline constexpr uint64_t kTssGpa = kSystemBase + 0x2000;
inline constexpr uint64_t kStubGpa = kSystemBase + 0x3000;
inline constexpr uint64_t kExceptionStackGpa = kSystemBase + 0x4000;
inline constexpr uint64_t kExceptionStackSize = 0x4000;
inline constexpr uint64_t kPageTableGpa = kSystemBase + 0x8000;
// Pages below this are mapped in the guest (supervisor, except the stubs);
// the page tables above need no mapping (the MMU walks them by GPA).
inline constexpr uint64_t kSystemMappedEnd = kPageTableGpa;
inline constexpr uint64_t kSystemEnd = kHugePageSize;

inline constexpr uint64_t kUserBase = kHugePageSize;        // 2 MiB
inline constexpr uint64_t kDefaultStackSize = 8ull << 20;   // RLIMIT_STACK default
inline constexpr uint64_t kMinRamSize = 16ull << 20;
inline constexpr uint64_t kMaxRamSize = 256ull << 30;       // 256 PDs fit below kUserBase

inline constexpr uint64_t page_align_down(uint64_t v) { return v & ~(kPageSize - 1); }
inline constexpr uint64_t page_align_up(uint64_t v) { return (v + kPageSize - 1) & ~(kPageSize - 1); }

}  // namespace spanvm::memory::layout
