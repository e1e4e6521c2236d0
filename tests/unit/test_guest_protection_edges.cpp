// memory::GuestProtection::protection_edges: where a host range's protection changes.
#include <doctest/doctest.h>

#include <sys/mman.h>

#include "vmm/memory/guest_memory.hpp"
#include "vmm/memory/guest_protection.hpp"
#include "vmm/memory/layout.hpp"

using namespace spanvm::memory;

TEST_CASE("protection_edges lists the changes of protection strictly inside a range") {
    constexpr std::uint64_t P = layout::kPageSize;
    auto mem = GuestMemory::create(2 * layout::kHugePageSize);  // user pages from kUserBase (2 MiB) on
    REQUIRE(mem);
    GuestProtection prot(*mem, false, false);
    const std::uint64_t u = layout::kUserBase;
    REQUIRE(prot.set(u + 4 * P, u + 8 * P, PROT_READ));
    REQUIRE(prot.set(u + 8 * P, u + 12 * P, PROT_READ | PROT_WRITE));
    const std::uint8_t* h = mem->host_base();
    // [u+2P, u+16P): PROT_NONE -> R at 4P, R -> RW at 8P, RW -> NONE at 12P.
    auto e = prot.protection_edges(h + u + 2 * P, 14 * P);
    REQUIRE(e.size() == 3);
    CHECK(e[0] == h + u + 4 * P);
    CHECK(e[1] == h + u + 8 * P);
    CHECK(e[2] == h + u + 12 * P);
    // A range that starts or ends on an edge does not list it.
    e = prot.protection_edges(h + u + 4 * P, 4 * P);
    CHECK(e.empty());
    e = prot.protection_edges(h + u + 5 * P, 7 * P);
    REQUIRE(e.size() == 1);
    CHECK(e[0] == h + u + 8 * P);
    // All PROT_NONE: none; past the end of guest RAM: none.
    CHECK(prot.protection_edges(h + u + 60 * P, 8 * P).empty());
    CHECK(prot.protection_edges(h + 2 * layout::kHugePageSize - 4 * P, 8 * P).empty());
}
