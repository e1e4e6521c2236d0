#pragma once
// GDT, TSS and IDT images for the process-mode guest (pure; no KVM types).
//
// Selectors follow the Linux x86-64 ABI (arch/x86/include/asm/segment.h) so
// that a program reading CS/SS sees the values it would see on Linux.
#include <array>
#include <cstdint>
#include <span>

namespace spanvm::arch::x86 {

inline constexpr uint16_t GDT_ENTRY_KERNEL_CS = 2;
inline constexpr uint16_t GDT_ENTRY_KERNEL_DS = 3;
inline constexpr uint16_t GDT_ENTRY_DEFAULT_USER32_CS = 4;
inline constexpr uint16_t GDT_ENTRY_DEFAULT_USER_DS = 5;
inline constexpr uint16_t GDT_ENTRY_DEFAULT_USER_CS = 6;
inline constexpr uint16_t GDT_ENTRY_TSS = 8;  // 16-byte descriptor: entries 8 and 9
inline constexpr uint16_t GDT_ENTRIES = 16;

inline constexpr uint16_t __KERNEL_CS = GDT_ENTRY_KERNEL_CS * 8;            // 0x10
inline constexpr uint16_t __KERNEL_DS = GDT_ENTRY_KERNEL_DS * 8;            // 0x18
inline constexpr uint16_t __USER32_CS = GDT_ENTRY_DEFAULT_USER32_CS * 8 + 3;  // 0x23
inline constexpr uint16_t __USER_DS = GDT_ENTRY_DEFAULT_USER_DS * 8 + 3;    // 0x2b
inline constexpr uint16_t __USER_CS = GDT_ENTRY_DEFAULT_USER_CS * 8 + 3;    // 0x33
inline constexpr uint16_t GDT_TSS_SELECTOR = GDT_ENTRY_TSS * 8;             // 0x40

// A segment register's hidden state as KVM_SET_SREGS wants it, without KVM's type.
struct Segment {
    uint64_t base = 0;
    uint32_t limit = 0;
    uint16_t selector = 0;
    uint8_t type = 0;  // SDM type field
    uint8_t present = 0, dpl = 0, db = 0, s = 0, l = 0, g = 0, avl = 0;
};

Segment kernel_code_segment();
Segment kernel_data_segment();
Segment user_code_segment();
Segment user_data_segment();
Segment tss_segment(uint64_t tss_base);

// Encodes a code/data Segment into its 8-byte GDT descriptor.
uint64_t encode_descriptor(const Segment& s);

// Writes the whole GDT (GDT_ENTRIES * 8 bytes) into `out`.
void write_gdt(std::span<uint8_t> out, uint64_t tss_base);

// 64-bit TSS: 104 bytes, then an I/O permission bitmap covering ports
// [0, kTssIoPorts) and its 0xFF terminator byte. RSP0 and IST1 point at the
// exception stack top. The shim's entries exit with `out` from ring 3 (on
// PVM `syscall` does not leave ring 3), so the ports in `allowed_ports` must be
// permitted by the bitmap while CPL > IOPL; every other port stays denied (#GP).
inline constexpr uint32_t kTssBaseSize = 104;
inline constexpr uint32_t kTssIoPorts = 256;
inline constexpr uint32_t kTssSize = kTssBaseSize + kTssIoPorts / 8 + 1;
void write_tss(std::span<uint8_t> out, uint64_t rsp0, std::span<const uint16_t> allowed_ports);

// IDT with `count` 64-bit interrupt gates (DPL 0, IST 1), gate i pointing at
// handler_base + i * handler_stride, in the kernel code segment.
void write_idt(std::span<uint8_t> out, unsigned count, uint64_t handler_base, uint64_t handler_stride);

}  // namespace spanvm::arch::x86
