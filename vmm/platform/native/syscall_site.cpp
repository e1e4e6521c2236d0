#include "vmm/platform/native/syscall_site.hpp"

#include <cstring>

namespace spanvm::platform::native {

namespace {

constexpr uint8_t kSyscall0 = 0x0f, kSyscall1 = 0x05;
constexpr uint8_t kMovEaxImm32 = 0xb8;
constexpr std::array<uint8_t, kPatchBytes> kMovR9Rsp8 = {0x4c, 0x8b, 0x4c, 0x24, 0x08};
constexpr std::array<uint8_t, 3> kLeaRcxRip = {0x48, 0x8d, 0x0d};  // lea disp32(%rip),%rcx
constexpr std::array<uint8_t, 6> kJmpIndRip = {0xff, 0x25, 0, 0, 0, 0};  // jmp *0(%rip)

std::optional<int32_t> rel32(uint64_t next_insn, uint64_t target) {
    const int64_t d = static_cast<int64_t>(target - next_insn);
    if (d < INT32_MIN || d > INT32_MAX) return std::nullopt;
    return static_cast<int32_t>(d);
}

}  // namespace

SitePattern match_syscall_site(std::span<const uint8_t, kSiteBytes> b) {
    if (b[5] != kSyscall0 || b[6] != kSyscall1) return SitePattern::none;
    if (b[0] == kMovEaxImm32) return SitePattern::mov_eax_imm32;
    // mov $imm32 to edx (ba), ebx (bb), ebp (bd), esi (be), edi (bf): b8+r.
    if (b[0] == 0xba || b[0] == 0xbb || b[0] == 0xbd || b[0] == 0xbe || b[0] == 0xbf) return SitePattern::mov_r32_imm32;
    if (std::memcmp(b.data(), kMovR9Rsp8.data(), kPatchBytes) == 0) return SitePattern::mov_r9_rsp8;
    return SitePattern::none;
}

bool site_matches_registers(std::span<const uint8_t, kSiteBytes> b, const Regs& r) {
    const SitePattern p = match_syscall_site(b);
    if (p != SitePattern::mov_eax_imm32 && p != SitePattern::mov_r32_imm32) return true;
    uint32_t imm;
    std::memcpy(&imm, b.data() + 1, 4);
    uint64_t v = 0;
    switch (b[0]) {  // b8+r, r in the SDM's register order eax ecx edx ebx esp ebp esi edi
        case 0xb8: v = r.rax; break;
        case 0xba: v = r.rdx; break;
        case 0xbb: v = r.rbx; break;
        case 0xbd: v = r.rbp; break;
        case 0xbe: v = r.rsi; break;
        case 0xbf: v = r.rdi; break;
        default: return false;
    }
    return v == imm;  // a 32-bit mov zero-extends into the 64-bit register
}

std::optional<std::array<uint8_t, kPatchBytes>> encode_jmp_rel32(uint64_t from, uint64_t to) {
    auto d = rel32(from + kPatchBytes, to);
    if (!d) return std::nullopt;
    std::array<uint8_t, kPatchBytes> out{};
    out[0] = kOpJmpRel32;
    std::memcpy(out.data() + 1, &*d, 4);
    return out;
}

std::optional<std::array<uint8_t, kStubBytes>> encode_stub(uint64_t stub, uint64_t site,
                                                           std::span<const uint8_t, kPatchBytes> displaced,
                                                           uint64_t entry) {
    auto ret = rel32(stub + kStubJmpOffset, site + kSiteBytes);
    if (!ret) return std::nullopt;
    std::array<uint8_t, kStubBytes> s{};
    s.fill(kOpInt3);
    std::memcpy(s.data(), displaced.data(), kPatchBytes);
    std::memcpy(s.data() + kStubLeaOffset, kLeaRcxRip.data(), kLeaRcxRip.size());
    std::memcpy(s.data() + kStubLeaOffset + kLeaRcxRip.size(), &*ret, 4);
    std::memcpy(s.data() + kStubJmpOffset, kJmpIndRip.data(), kJmpIndRip.size());
    std::memcpy(s.data() + kStubEntryPtrOffset, &entry, 8);
    return s;
}

uint64_t stub_rip_to_site(uint64_t offset, uint64_t site) {
    return offset < kStubLeaOffset ? site : site + kPatchBytes;
}

}  // namespace spanvm::platform::native
