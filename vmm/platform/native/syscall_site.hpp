#pragma once
// Pure encoding of syscall-site patching (no I/O): which instruction pairs
// ending in `syscall` may be rewritten, the 5-byte jump that replaces the
// first instruction, and the per-site stub it jumps to. The stateful side
// (stub memory, the site table, the atomic rewrite) is site_patcher.hpp.
//
// A patchable site is a 5-byte instruction I followed by `syscall` (0f 05):
//   b8 imm32         mov $imm32,%eax      glibc's wrappers (436 of 526 sites
//                                         in this host's libc.so.6)
//   ba/bb/bd/be/bf imm32                  mov $imm32 to edx, ebx, ebp, esi or
//                    e.g. mov $-100,%edi  edi: ld.so's and libc's openat(AT_FDCWD)
//                                         with the number set earlier
//   4c 8b 4c 24 08   mov 0x8(%rsp),%r9    glibc's syscall(3)
// (Not ecx, which the stub's lea sets, nor esp.) The 7 bytes alone cannot
// tell `mov $imm32,%r32` from the tail of a longer instruction whose ModRM
// byte is b8-bf (mod 10, reg 7: `disp32(%reg)`, as in `vmovdqu
// 0x1e0(%rbx),%ymm15` = c5 7e 6f bb e0 01 00 00), so a mov site is patched
// only when the trapped thread's register holds the immediate
// (site_matches_registers): a real mov just set it.
// Only I's 5 bytes become `jmp rel32` to the stub; the `syscall` after it
// is left in place, so a thread stopped between the two (or a jump to the
// `syscall`) still executes a real syscall that Syscall User Dispatch traps.
// I is position-independent, so the stub runs it unchanged.
//
// Stub layout (kStubBytes each, kStubBytes-aligned):
//   +0   I                          (5)   the displaced instruction
//   +5   lea site+7(%rip),%rcx      (7)   the return RIP, as `syscall` sets RCX
//   +12  jmp *+18(%rip)             (6)   into spanvm_native_syscall_entry
//   +18  .quad entry                (8)
//   +26  int3 x 6
// RCX and R11 are the registers `syscall` itself clobbers, so the stub may
// use RCX; the entry takes RFLAGS into R11's slot (native_switch.S).
#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "vmm/platform/regs.hpp"

namespace spanvm::platform::native {

inline constexpr uint64_t kStubBytes = 32;
inline constexpr uint64_t kSiteBytes = 7;       // I (5) + syscall (2)
inline constexpr uint64_t kPatchBytes = 5;      // what is rewritten: I
inline constexpr uint8_t kOpJmpRel32 = 0xe9;
inline constexpr uint8_t kOpInt3 = 0xcc;
// Offsets inside a stub at which a thread can be stopped (instruction
// boundaries that execute); see stub_rip_to_site().
inline constexpr uint64_t kStubLeaOffset = 5;
inline constexpr uint64_t kStubJmpOffset = 12;
inline constexpr uint64_t kStubEntryPtrOffset = 18;

enum class SitePattern { none, mov_eax_imm32, mov_r32_imm32, mov_r9_rsp8 };

// The pattern of the kSiteBytes bytes at a site (the 7 bytes that end with
// the `syscall` just executed), or none.
SitePattern match_syscall_site(std::span<const uint8_t, kSiteBytes> bytes);

// Whether the registers of the thread whose `syscall` just trapped agree
// with the site's first instruction having run: for `mov $imm32,%r32`, the
// register holds imm32 zero-extended. Other patterns: true.
bool site_matches_registers(std::span<const uint8_t, kSiteBytes> bytes, const Regs& regs);

// `jmp rel32` at `from` to `to`, or nullopt when `to` is out of rel32 reach.
std::optional<std::array<uint8_t, kPatchBytes>> encode_jmp_rel32(uint64_t from, uint64_t to);

// The stub at `stub` for the site at `site` whose first instruction is
// `displaced`, entering spanvm at `entry`. nullopt when site+7 is out of
// rel32 reach of the stub.
std::optional<std::array<uint8_t, kStubBytes>> encode_stub(uint64_t stub, uint64_t site,
                                                           std::span<const uint8_t, kPatchBytes> displaced,
                                                           uint64_t entry);

// Where a thread stopped at `offset` inside the stub of `site` is in the
// guest's original code: before I (offset 0) it is at the site; after I
// (the lea and the jmp) it is at the `syscall`, with I's effect done (RCX
// may already hold the return RIP: `syscall` clobbers it anyway).
uint64_t stub_rip_to_site(uint64_t offset, uint64_t site);

}  // namespace spanvm::platform::native
