#include "vmm/arch/x86/gdt.hpp"

#include <cstring>

namespace spanvm::arch::x86 {

namespace {
void put64(std::span<uint8_t> out, size_t off, uint64_t v) { std::memcpy(out.data() + off, &v, 8); }
void put32(std::span<uint8_t> out, size_t off, uint32_t v) { std::memcpy(out.data() + off, &v, 4); }
void put16(std::span<uint8_t> out, size_t off, uint16_t v) { std::memcpy(out.data() + off, &v, 2); }
}  // namespace

Segment kernel_code_segment() {
    // Type 0xB = execute/read, accessed.
    return Segment{0, 0xFFFFF, __KERNEL_CS, 0xB, 1, 0, 0, 1, 1, 1, 0};
}
Segment kernel_data_segment() {
    // Type 0x3 = read/write, accessed.
    return Segment{0, 0xFFFFF, __KERNEL_DS, 0x3, 1, 0, 1, 1, 0, 1, 0};
}
Segment user_code_segment() { return Segment{0, 0xFFFFF, __USER_CS, 0xB, 1, 3, 0, 1, 1, 1, 0}; }
Segment user_data_segment() { return Segment{0, 0xFFFFF, __USER_DS, 0x3, 1, 3, 1, 1, 0, 1, 0}; }
Segment tss_segment(uint64_t tss_base) {
    // Type 0xB = 64-bit TSS (busy), as KVM expects for TR.
    return Segment{tss_base, kTssSize - 1, GDT_TSS_SELECTOR, 0xB, 1, 0, 0, 0, 0, 0, 0};
}

uint64_t encode_descriptor(const Segment& s) {
    uint64_t d = 0;
    d |= (s.limit & 0xFFFFull);
    d |= (s.base & 0xFFFFFFull) << 16;
    d |= static_cast<uint64_t>(s.type & 0xF) << 40;
    d |= static_cast<uint64_t>(s.s & 1) << 44;
    d |= static_cast<uint64_t>(s.dpl & 3) << 45;
    d |= static_cast<uint64_t>(s.present & 1) << 47;
    d |= ((s.limit >> 16) & 0xFull) << 48;
    d |= static_cast<uint64_t>(s.avl & 1) << 52;
    d |= static_cast<uint64_t>(s.l & 1) << 53;
    d |= static_cast<uint64_t>(s.db & 1) << 54;
    d |= static_cast<uint64_t>(s.g & 1) << 55;
    d |= ((s.base >> 24) & 0xFFull) << 56;
    return d;
}

void write_gdt(std::span<uint8_t> out, uint64_t tss_base) {
    std::memset(out.data(), 0, GDT_ENTRIES * 8);
    put64(out, GDT_ENTRY_KERNEL_CS * 8, encode_descriptor(kernel_code_segment()));
    put64(out, GDT_ENTRY_KERNEL_DS * 8, encode_descriptor(kernel_data_segment()));
    Segment u32 = user_code_segment();
    u32.l = 0;
    u32.db = 1;
    put64(out, GDT_ENTRY_DEFAULT_USER32_CS * 8, encode_descriptor(u32));
    put64(out, GDT_ENTRY_DEFAULT_USER_DS * 8, encode_descriptor(user_data_segment()));
    put64(out, GDT_ENTRY_DEFAULT_USER_CS * 8, encode_descriptor(user_code_segment()));
    // System descriptors are 16 bytes in long mode: the upper 8 hold base[63:32].
    Segment t = tss_segment(tss_base);
    t.type = 0x9;  // available 64-bit TSS in the table; the CPU marks it busy on LTR
    put64(out, GDT_ENTRY_TSS * 8, encode_descriptor(t));
    put64(out, GDT_ENTRY_TSS * 8 + 8, tss_base >> 32);
}

void write_tss(std::span<uint8_t> out, uint64_t rsp0, std::span<const uint16_t> allowed_ports) {
    std::memset(out.data(), 0, kTssBaseSize);
    put64(out, 4, rsp0);   // RSP0
    put64(out, 36, rsp0);  // IST1
    put16(out, 102, static_cast<uint16_t>(kTssBaseSize));
    std::memset(out.data() + kTssBaseSize, 0xFF, kTssIoPorts / 8 + 1);  // deny all, terminator
    for (uint16_t p : allowed_ports)
        if (p < kTssIoPorts) out[kTssBaseSize + p / 8] &= static_cast<uint8_t>(~(1u << (p % 8)));
}

void write_idt(std::span<uint8_t> out, unsigned count, uint64_t handler_base, uint64_t handler_stride) {
    std::memset(out.data(), 0, count * 16);
    for (unsigned i = 0; i < count; ++i) {
        uint64_t h = handler_base + i * handler_stride;
        size_t off = i * 16;
        put16(out, off + 0, static_cast<uint16_t>(h & 0xFFFF));
        put16(out, off + 2, __KERNEL_CS);
        out[off + 4] = 1;     // IST1
        out[off + 5] = 0x8E;  // present, DPL 0, 64-bit interrupt gate
        put16(out, off + 6, static_cast<uint16_t>((h >> 16) & 0xFFFF));
        put32(out, off + 8, static_cast<uint32_t>(h >> 32));
    }
}

}  // namespace spanvm::arch::x86
