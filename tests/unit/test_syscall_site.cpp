// Syscall-site patching's pure encoding (vmm/platform/native/syscall_site.hpp)
// against encodings produced by GNU as (each instruction in a comment).
#include <doctest/doctest.h>

#include <array>
#include <cstring>

#include "vmm/platform/native/syscall_site.hpp"

using namespace spanvm::platform::native;

namespace {
using Site = std::array<uint8_t, kSiteBytes>;

int32_t rel_at(const uint8_t* p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return v;
}
}  // namespace

TEST_CASE("syscall sites: the patterns, and what is not one") {
    // mov $0x6e,%eax; syscall  (glibc getppid)
    CHECK(match_syscall_site(Site{0xb8, 0x6e, 0, 0, 0, 0x0f, 0x05}) == SitePattern::mov_eax_imm32);
    // mov 0x8(%rsp),%r9; syscall  (glibc syscall(3))
    CHECK(match_syscall_site(Site{0x4c, 0x8b, 0x4c, 0x24, 0x08, 0x0f, 0x05}) == SitePattern::mov_r9_rsp8);
    // mov $0xffffff9c,%edi; syscall  (ld.so's openat(AT_FDCWD, ...), eax set before)
    CHECK(match_syscall_site(Site{0xbf, 0x9c, 0xff, 0xff, 0xff, 0x0f, 0x05}) == SitePattern::mov_r32_imm32);
    // mov $0x1,%edx / %esi; syscall
    CHECK(match_syscall_site(Site{0xba, 1, 0, 0, 0, 0x0f, 0x05}) == SitePattern::mov_r32_imm32);
    CHECK(match_syscall_site(Site{0xbe, 1, 0, 0, 0, 0x0f, 0x05}) == SitePattern::mov_r32_imm32);
    // mov $1,%ecx (the stub's lea sets RCX) and mov $1,%esp: not patched
    CHECK(match_syscall_site(Site{0xb9, 1, 0, 0, 0, 0x0f, 0x05}) == SitePattern::none);
    CHECK(match_syscall_site(Site{0xbc, 1, 0, 0, 0, 0x0f, 0x05}) == SitePattern::none);
    // mov 0x10(%rsp),%r9; syscall: another displacement, not patched
    CHECK(match_syscall_site(Site{0x4c, 0x8b, 0x4c, 0x24, 0x10, 0x0f, 0x05}) == SitePattern::none);
    // mov $0x6e,%eax; sysenter (0f 34): not a syscall
    CHECK(match_syscall_site(Site{0xb8, 0x6e, 0, 0, 0, 0x0f, 0x34}) == SitePattern::none);
    // xor %eax,%eax; ... ; syscall: a 2-byte instruction before, not one of ours
    CHECK(match_syscall_site(Site{0x90, 0x90, 0x90, 0x31, 0xc0, 0x0f, 0x05}) == SitePattern::none);
}

TEST_CASE("syscall sites: a mov site is taken only when its register holds the immediate") {
    spanvm::platform::Regs r;
    // mov $0x6e,%eax; syscall with rax = 0x6e: a real mov
    r.rax = 0x6e;
    CHECK(site_matches_registers(Site{0xb8, 0x6e, 0, 0, 0, 0x0f, 0x05}, r));
    r.rax = 0x10000006e;  // upper half set: a 32-bit mov zero-extends, so not it
    CHECK_FALSE(site_matches_registers(Site{0xb8, 0x6e, 0, 0, 0, 0x0f, 0x05}, r));
    // mov $0xffffff9c,%edi; syscall (openat's AT_FDCWD)
    r.rdi = 0xffffff9c;
    CHECK(site_matches_registers(Site{0xbf, 0x9c, 0xff, 0xff, 0xff, 0x0f, 0x05}, r));
    r.rdi = static_cast<uint64_t>(-100);  // sign-extended -100: not what `mov $imm32,%edi` leaves
    CHECK_FALSE(site_matches_registers(Site{0xbf, 0x9c, 0xff, 0xff, 0xff, 0x0f, 0x05}, r));
    // vmovdqu 0x1e0(%rbx),%ymm15; syscall = c5 7e 6f bb e0 01 00 00 0f 05: the last
    // 7 bytes read as `mov $0x1e0,%ebx`, but rbx is the base pointer
    r.rbx = 0x7ffd1234a000;
    CHECK(match_syscall_site(Site{0xbb, 0xe0, 0x01, 0, 0, 0x0f, 0x05}) == SitePattern::mov_r32_imm32);
    CHECK_FALSE(site_matches_registers(Site{0xbb, 0xe0, 0x01, 0, 0, 0x0f, 0x05}, r));
    // mov 0x8(%rsp),%r9: no register check
    CHECK(site_matches_registers(Site{0x4c, 0x8b, 0x4c, 0x24, 0x08, 0x0f, 0x05}, r));
}

TEST_CASE("syscall sites: jmp rel32 reaches +-2 GiB and no further") {
    auto j = encode_jmp_rel32(0x401000, 0x100000);
    REQUIRE(j);
    CHECK((*j)[0] == kOpJmpRel32);
    CHECK(rel_at(j->data() + 1) == static_cast<int32_t>(0x100000 - (0x401000 + 5)));
    CHECK(encode_jmp_rel32(0x600000000, 0x100000) == std::nullopt);       // 24 GiB away
    CHECK(encode_jmp_rel32(0x5ff000000, 0x600000000));                    // 16 MiB below
}

TEST_CASE("syscall sites: the stub runs the displaced instruction, sets RCX to the return RIP, jumps to the entry") {
    const uint64_t stub = 0x100040, site = 0x401ff0, entry = 0x55aa00112233;
    const std::array<uint8_t, kPatchBytes> mov{0xb8, 0x27, 0, 0, 0};  // mov $39,%eax
    auto s = encode_stub(stub, site, mov, entry);
    REQUIRE(s);
    CHECK(std::memcmp(s->data(), mov.data(), kPatchBytes) == 0);
    // lea disp32(%rip),%rcx = 48 8d 0d disp32, disp from the next instruction (stub+12)
    CHECK((*s)[5] == 0x48);
    CHECK((*s)[6] == 0x8d);
    CHECK((*s)[7] == 0x0d);
    CHECK(stub + kStubJmpOffset + static_cast<int64_t>(rel_at(s->data() + 8)) == site + kSiteBytes);
    // jmp *0(%rip) = ff 25 00 00 00 00, then the absolute entry
    CHECK((*s)[12] == 0xff);
    CHECK((*s)[13] == 0x25);
    CHECK(rel_at(s->data() + 14) == 0);
    uint64_t e;
    std::memcpy(&e, s->data() + kStubEntryPtrOffset, 8);
    CHECK(e == entry);
    for (uint64_t i = kStubEntryPtrOffset + 8; i < kStubBytes; ++i) CHECK((*s)[i] == kOpInt3);
    CHECK(encode_stub(0x100000, 0x600000000, mov, entry) == std::nullopt);
}

TEST_CASE("syscall sites: a thread stopped in a stub is at the site or at its syscall") {
    const uint64_t site = 0x401ff0;
    CHECK(stub_rip_to_site(0, site) == site);                        // I not run yet
    CHECK(stub_rip_to_site(kStubLeaOffset, site) == site + 5);       // I done: at the `syscall`
    CHECK(stub_rip_to_site(kStubJmpOffset, site) == site + 5);
}
