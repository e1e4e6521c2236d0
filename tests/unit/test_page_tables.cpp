#include <doctest/doctest.h>

#include <vector>

#include "vmm/arch/x86/gdt.hpp"
#include "vmm/arch/x86/page_tables.hpp"
#include "vmm/memory/layout.hpp"

using namespace spanvm;

namespace {
arch::x86::PageTableLayout layout_for(uint64_t ram) {
    return arch::x86::PageTableLayout{ram, memory::layout::kPageTableGpa, memory::layout::kSystemEnd, memory::layout::kNullGuardEnd,
                                memory::layout::kStubGpa, memory::layout::kSystemMappedEnd, memory::layout::kUserBase};
}
}  // namespace

SCENARIO("identity page tables for process mode") {
    GIVEN("64 MiB of guest RAM") {
        const uint64_t ram_size = 64ull << 20;
        std::vector<uint8_t> ram(ram_size);
        auto cr3 = arch::x86::write_identity_page_tables(ram, layout_for(ram_size));
        REQUIRE(cr3.has_value());
        THEN("CR3 is the PML4 at the page-table area") { CHECK(*cr3 == memory::layout::kPageTableGpa); }
        THEN("the NULL guard is absent") {
            CHECK_FALSE(arch::x86::walk(ram, *cr3, 0).has_value());
            CHECK_FALSE(arch::x86::walk(ram, *cr3, 0xFFF8).has_value());
        }
        THEN("user memory is identity-mapped, user, writable, executable") {
            for (uint64_t a : {memory::layout::kUserBase, uint64_t{0x400123}, ram_size - 8}) {
                auto t = arch::x86::walk(ram, *cr3, a);
                REQUIRE(t.has_value());
                CHECK(t->gpa == a);
                CHECK(t->user);
                CHECK(t->writable);
                CHECK(t->executable);
            }
        }
        THEN("nothing at or above the end of RAM is present") {
            CHECK_FALSE(arch::x86::walk(ram, *cr3, ram_size).has_value());
            CHECK_FALSE(arch::x86::walk(ram, *cr3, 1ull << 40).has_value());
        }
        THEN("the stub page is user read-only executable, the GDT supervisor-only") {
            auto s = arch::x86::walk(ram, *cr3, memory::layout::kStubGpa + 5);
            REQUIRE(s.has_value());
            CHECK(s->user);
            CHECK_FALSE(s->writable);
            CHECK(s->executable);
            auto g = arch::x86::walk(ram, *cr3, memory::layout::kGdtGpa);
            REQUIRE(g.has_value());
            CHECK_FALSE(g->user);
            CHECK_FALSE(g->executable);
        }
    }
    GIVEN("3 GiB of RAM (more than one page directory)") {
        const uint64_t ram_size = 3ull << 30;
        std::vector<uint8_t> ram(ram_size);
        auto cr3 = arch::x86::write_identity_page_tables(ram, layout_for(ram_size));
        REQUIRE(cr3.has_value());
        THEN("addresses in the third GiB translate") {
            auto t = arch::x86::walk(ram, *cr3, (2ull << 30) + 0x345678);
            REQUIRE(t.has_value());
            CHECK(t->gpa == (2ull << 30) + 0x345678);
        }
    }
    GIVEN("a layout whose RAM size is not 2 MiB aligned") {
        std::vector<uint8_t> ram(8ull << 20);
        auto l = layout_for(8ull << 20);
        l.ram_size = (8ull << 20) - 4096;
        THEN("building fails") { CHECK_FALSE(arch::x86::write_identity_page_tables(ram, l).has_value()); }
    }
}

SCENARIO("GDT and IDT images") {
    GIVEN("the Linux ABI selectors") {
        THEN("they match arch/x86/include/asm/segment.h") {
            CHECK(arch::x86::__KERNEL_CS == 0x10);
            CHECK(arch::x86::__USER_DS == 0x2b);
            CHECK(arch::x86::__USER_CS == 0x33);
        }
    }
    WHEN("the user code segment is encoded") {
        uint64_t d = arch::x86::encode_descriptor(arch::x86::user_code_segment());
        THEN("it is a present, DPL 3, long-mode code descriptor") {
            CHECK(((d >> 47) & 1) == 1);
            CHECK(((d >> 45) & 3) == 3);
            CHECK(((d >> 53) & 1) == 1);
            CHECK(((d >> 43) & 1) == 1);  // executable
        }
    }
    WHEN("an IDT with 32 gates is written") {
        std::vector<uint8_t> idt(32 * 16);
        arch::x86::write_idt(idt, 32, 0x13100, 8);
        THEN("gate 14 points at base + 14 * stride with IST1") {
            uint64_t lo = idt[14 * 16] | (uint64_t{idt[14 * 16 + 1]} << 8);
            uint64_t mid = idt[14 * 16 + 6] | (uint64_t{idt[14 * 16 + 7]} << 8);
            CHECK(((mid << 16) | lo) == 0x13100 + 14 * 8);
            CHECK(idt[14 * 16 + 4] == 1);
            CHECK(idt[14 * 16 + 5] == 0x8E);
        }
    }
}
