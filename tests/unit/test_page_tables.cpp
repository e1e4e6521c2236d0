#include <doctest/doctest.h>

#include <sys/mman.h>

#include <cstring>
#include <span>
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
    GIVEN("4 GiB of RAM with only the first GiB present (KVM's on-demand backing)") {
        const uint64_t ram_size = 4ull << 30;
        // Untouched anonymous memory: only the table pages get written.
        void* p = ::mmap(nullptr, ram_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        REQUIRE(p != MAP_FAILED);
        std::span<uint8_t> ram(static_cast<uint8_t*>(p), ram_size);
        auto l = layout_for(ram_size);
        l.present_end = 1ull << 30;
        auto cr3 = arch::x86::write_identity_page_tables(ram, l);
        REQUIRE(cr3.has_value());
        THEN("the first GiB translates and the others raise #PF") {
            CHECK(arch::x86::walk(ram, *cr3, (1ull << 30) - 8).has_value());
            CHECK_FALSE(arch::x86::walk(ram, *cr3, 1ull << 30).has_value());
            CHECK_FALSE(arch::x86::walk(ram, *cr3, (3ull << 30) + 0x1234).has_value());
        }
        WHEN("the PDPT entry of GiB 3 is stored") {
            const auto e = arch::x86::identity_pdpt_entry(l, 3);
            std::memcpy(ram.data() + e.gpa, &e.value, 8);
            THEN("GiB 3 translates as the identity, GiB 2 still does not") {
                auto t = arch::x86::walk(ram, *cr3, (3ull << 30) + 0x345678);
                REQUIRE(t.has_value());
                CHECK(t->gpa == (3ull << 30) + 0x345678);
                CHECK(t->user);
                CHECK(t->writable);
                CHECK_FALSE(arch::x86::walk(ram, *cr3, (2ull << 30) + 0x345678).has_value());
            }
        }
        ::munmap(p, ram_size);
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
