// The x86-64 memory-operand decoder against encodings produced by GNU as
// (the instruction is in each comment). Registers: gpr[i] = 0x1000 * (i + 1),
// so rax=0x1000 rcx=0x2000 rdx=0x3000 rbx=0x4000 rsp=0x5000 rbp=0x6000
// rsi=0x7000 rdi=0x8000 ... r12=0xD000 r13=0xE000.
#include <doctest/doctest.h>

#include <initializer_list>
#include <vector>

#include "vmm/arch/x86/memory_operand.hpp"

using namespace spanvm::arch::x86;

namespace {
constexpr uint64_t kRip = 0x400000, kFs = 0x7f0000000000, kGs = 0x7e0000000000;

DecodeRegs regs() {
    DecodeRegs r;
    for (unsigned i = 0; i < 16; ++i) r.gpr[i] = 0x1000ull * (i + 1);
    r.rip = kRip;
    r.fs_base = kFs;
    r.gs_base = kGs;
    return r;
}

std::vector<uint64_t> decode(std::initializer_list<uint8_t> bytes, const DecodeRegs& r = regs()) {
    const std::vector<uint8_t> b(bytes);
    auto m = memory_operands(b, r);
    if (!m) return {};
    return std::vector<uint64_t>(m->addr, m->addr + m->count);
}
using V = std::vector<uint64_t>;
}  // namespace

TEST_CASE("ModRM and SIB forms") {
    CHECK(decode({0xc6, 0x40, 0x7b, 0x01}) == V{0x107b});                    // movb $1, 0x7b(%rax)
    CHECK(decode({0x89, 0x04, 0x24}) == V{0x5000});                          // mov %eax, (%rsp)
    CHECK(decode({0x48, 0x8b, 0x54, 0x8b, 0x08}) == V{0xC008});              // mov 8(%rbx,%rcx,4), %rdx
    CHECK(decode({0x4b, 0x8b, 0x04, 0xec}) == V{0xD000 + 0xE000 * 8});       // mov (%r12,%r13,8), %rax
    CHECK(decode({0x48, 0x8b, 0x45, 0x00}) == V{0x6000});                    // mov 0(%rbp), %rax
    CHECK(decode({0x49, 0x8b, 0x85, 0x00, 0x10, 0x00, 0x00}) == V{0xF000});  // mov 0x1000(%r13), %rax
    CHECK(decode({0xf0, 0x48, 0x0f, 0xb1, 0x0f}) == V{0x8000});              // lock cmpxchg %rcx, (%rdi)
    CHECK(decode({0xdb, 0x2a}) == V{0x3000});                                // fldt (%rdx)
    CHECK(decode({0x66, 0x0f, 0xc4, 0x00, 0x01}) == V{0x1000});              // pinsrw $1, (%rax), %xmm0
}

TEST_CASE("RIP-relative operands count the immediate in the instruction length") {
    CHECK(decode({0x48, 0x8b, 0x05, 0x10, 0, 0, 0}) == V{kRip + 7 + 0x10});          // mov 0x10(%rip), %rax
    CHECK(decode({0xc7, 0x05, 0x20, 0, 0, 0, 5, 0, 0, 0}) == V{kRip + 10 + 0x20});    // movl $5, 0x20(%rip)
    CHECK(decode({0x80, 0x3d, 0x30, 0, 0, 0, 1}) == V{kRip + 7 + 0x30});             // cmpb $1, 0x30(%rip)
    CHECK(decode({0x0f, 0xc6, 0x05, 0x10, 0, 0, 0, 1}) == V{kRip + 8 + 0x10});       // shufps $1, 0x10(%rip), %xmm0
    CHECK(decode({0xf6, 0x05, 0x10, 0, 0, 0, 1}) == V{kRip + 7 + 0x10});             // testb $1, 0x10(%rip)
    CHECK(decode({0xf7, 0x05, 0x10, 0, 0, 0, 1, 0, 0, 0}) == V{kRip + 10 + 0x10});   // testl $1, 0x10(%rip)
    CHECK(decode({0xf7, 0x15, 0x10, 0, 0, 0}) == V{kRip + 6 + 0x10});                // notl 0x10(%rip)
    CHECK(decode({0x66, 0xc7, 0x05, 0x10, 0, 0, 0, 1, 0}) == V{kRip + 9 + 0x10});    // movw $1, 0x10(%rip)
    CHECK(decode({0xc4, 0xe3, 0x75, 0x0f, 0x15, 0x40, 0, 0, 0, 3}) == V{kRip + 10 + 0x40});  // vpalignr $3, 0x40(%rip), ...
}

TEST_CASE("segment overrides and the address-size prefix") {
    CHECK(decode({0x64, 0x48, 0x8b, 0x04, 0x25, 0x28, 0, 0, 0}) == V{kFs + 0x28});  // mov %fs:0x28, %rax
    CHECK(decode({0x65, 0x48, 0x8b, 0x08}) == V{kGs + 0x1000});                     // mov %gs:(%rax), %rcx
    DecodeRegs r = regs();
    r.gpr[0] = 0x100001000ull;
    CHECK(decode({0x67, 0x8b, 0x18}, r) == V{0x1000});  // mov (%eax), %ebx
}

TEST_CASE("VEX-encoded operands") {
    CHECK(decode({0xc5, 0xfe, 0x6f, 0x06}) == V{0x7000});        // vmovdqu (%rsi), %ymm0
    CHECK(decode({0xc4, 0xe2, 0x75, 0x00, 0x12}) == V{0x3000});  // vpshufb (%rdx), %ymm1, %ymm2
}

TEST_CASE("implicit operands: the stack, strings, xlat, moffs") {
    CHECK(decode({0x50}) == V{0x5000 - 8});                    // push %rax
    CHECK(decode({0x5b}) == V{0x5000});                        // pop %rbx
    CHECK(decode({0xff, 0x70, 0x08}) == V{0x1008, 0x5000 - 8});  // push 8(%rax): read, then the stack
    CHECK(decode({0xff, 0x10}) == V{0x1000, 0x5000 - 8});      // call *(%rax)
    CHECK(decode({0x8f, 0x44, 0x24, 0x10}) == V{0x5000, 0x5010});  // pop 0x10(%rsp): the stack, then the target
    CHECK(decode({0xc3}) == V{0x5000});                        // ret
    CHECK(decode({0xa4}) == V{0x7000, 0x8000});                // movsb
    CHECK(decode({0xf3, 0x48, 0xab}) == V{0x8000});            // rep stosq
    CHECK(decode({0xd7}) == V{0x4000});                        // xlat (al = 0)
    CHECK(decode({0xa0, 0x90, 0x78, 0x56, 0x34, 0x12, 0, 0, 0}) == V{0x1234567890});  // movabs 0x1234567890, %al
}

TEST_CASE("no memory operand, or not enough bytes") {
    CHECK(decode({0x48, 0x8d, 0x58, 0x08}).empty());  // lea 8(%rax), %rbx
    CHECK(decode({0x48, 0x89, 0xc3}).empty());        // mov %rax, %rbx
    CHECK(decode({0x0f, 0x18, 0x08}).empty());        // prefetcht0 (%rax)
    CHECK(decode({0x48, 0x8b}).empty());              // truncated
    CHECK(decode({0x48, 0x8b, 0x05, 0x10}).empty());  // truncated displacement
    CHECK(decode({}).empty());
}
