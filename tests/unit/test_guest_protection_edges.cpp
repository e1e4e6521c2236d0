// memory::GuestProtection: where a host range's protection changes, and the host calls it skips.
#include <doctest/doctest.h>

#include <sys/mman.h>

#include <cstdio>

#include "vmm/memory/guest_memory.hpp"
#include "vmm/memory/guest_protection.hpp"
#include "vmm/memory/layout.hpp"

using namespace spanvm::memory;

namespace {
constexpr std::uint64_t P = layout::kPageSize;
constexpr std::uint64_t u = layout::kUserBase;

// Two huge pages of guest RAM (user pages from kUserBase, 2 MiB, on) and its
// protection (`host_exec`: GuestProtection's second argument).
struct Ram {
    explicit Ram(bool host_exec) : mem(make()), prot(mem, host_exec, false) {}
    static GuestMemory make() {
        auto m = GuestMemory::create(2 * layout::kHugePageSize);
        REQUIRE(m);
        return std::move(*m);
    }
    GuestMemory mem;
    GuestProtection prot;
};
}  // namespace

TEST_CASE("protection_edges lists the changes of protection strictly inside a range") {
    Ram ram(false);
    auto& prot = ram.prot;
    REQUIRE(prot.set(u + 4 * P, u + 8 * P, PROT_READ));
    REQUIRE(prot.set(u + 8 * P, u + 12 * P, PROT_READ | PROT_WRITE));
    const std::uint8_t* h = ram.mem.host_base();
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

namespace {
// The host protection of the page at p, probed without faulting: mprotect
// does not tell, so read it from /proc/self/maps.
int host_prot_at(const void* p) {
    FILE* f = std::fopen("/proc/self/maps", "r");
    REQUIRE(f);
    char line[512];
    int prot = -1;
    const auto a = reinterpret_cast<std::uintptr_t>(p);
    while (std::fgets(line, sizeof line, f)) {
        unsigned long lo = 0, hi = 0;
        char perms[5] = {};
        if (std::sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) != 3) continue;
        if (a < lo || a >= hi) continue;
        prot = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) | (perms[2] == 'x' ? PROT_EXEC : 0);
        break;
    }
    std::fclose(f);
    return prot;
}
}  // namespace

TEST_CASE("set() skips what the host already has, and still changes what it does not") {
    Ram ram(true);
    auto& prot = ram.prot;
    std::uint8_t* h = ram.mem.host_base();
    REQUIRE(prot.set(u, u + 16 * P, PROT_READ));
    CHECK(host_prot_at(h + u + 3 * P) == PROT_READ);
    // The caller maps over part of it behind the record's back, and says so.
    REQUIRE(::mmap(h + u + 4 * P, 4 * P, PROT_READ | PROT_WRITE | PROT_EXEC,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED);
    prot.host_mapped(u + 4 * P, u + 8 * P, PROT_READ | PROT_WRITE | PROT_EXEC);
    // The layout did not change there, but the host did: set() puts it back.
    REQUIRE(prot.set(u, u + 16 * P, PROT_READ));
    CHECK(host_prot_at(h + u + 5 * P) == PROT_READ);
    // open() makes it writable for the VMM; restore() follows the layout.
    REQUIRE(prot.open(u + 2 * P, u + 6 * P, PROT_READ | PROT_WRITE | PROT_EXEC));
    CHECK(host_prot_at(h + u + 2 * P) == (PROT_READ | PROT_WRITE | PROT_EXEC));
    h[u + 2 * P] = 1;
    REQUIRE(prot.restore(u, u + 20 * P));
    CHECK(host_prot_at(h + u + 2 * P) == PROT_READ);
    CHECK(host_prot_at(h + u + 16 * P) == PROT_NONE);
    // Guest code it cannot write is never trusted to be as recorded (the
    // native site patcher opens such pages without telling): the same
    // layout set again still reaches the host.
    REQUIRE(prot.set(u + 8 * P, u + 10 * P, PROT_READ | PROT_EXEC));
    REQUIRE(::mprotect(h + u + 8 * P, P, PROT_READ | PROT_WRITE | PROT_EXEC) == 0);
    REQUIRE(prot.set(u + 8 * P, u + 10 * P, PROT_READ | PROT_EXEC));
    CHECK(host_prot_at(h + u + 8 * P) == (PROT_READ | PROT_EXEC));
}

TEST_CASE("uniform_access is the guest's access where it is one throughout, holes counting as none") {
    Ram ram(false);
    auto& prot = ram.prot;
    REQUIRE(prot.set(u, u + 4 * P, PROT_READ));
    REQUIRE(prot.set(u + 4 * P, u + 8 * P, PROT_READ | PROT_WRITE));
    CHECK(prot.uniform_access(u + P, u + 4 * P) == PROT_READ);
    CHECK(prot.uniform_access(u + 4 * P, u + 8 * P) == (PROT_READ | PROT_WRITE));
    CHECK(prot.uniform_access(u, u + 8 * P) == -1);
    CHECK(prot.uniform_access(u + 16 * P, u + 20 * P) == 0);
    CHECK(prot.uniform_access(u + 6 * P, u + 10 * P) == -1);  // ends in a hole
    CHECK(prot.uniform_access(u + 5 * P, u + 5 * P) == -1);   // empty
    // host_known follows what set() did.
    CHECK(prot.host_known(u, u + 4 * P, PROT_READ));
    CHECK_FALSE(prot.host_known(u, u + 8 * P, PROT_READ));
    CHECK_FALSE(prot.host_known(u + 16 * P, u + 20 * P, PROT_NONE));  // never set: unknown
}

TEST_CASE("renewed() forgets the old image's layout: its code no longer forces a re-application") {
    Ram ram(true);
    auto& prot = ram.prot;
    std::uint8_t* h = ram.mem.host_base();
    // The old image's code, which the site patcher may have opened.
    REQUIRE(prot.set(u + 8 * P, u + 10 * P, PROT_READ | PROT_EXEC));
    // execve on one host: the whole user area becomes fresh memory.
    const int rwx = PROT_READ | PROT_WRITE | PROT_EXEC;
    REQUIRE(::mmap(h + u, 20 * P, rwx, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED);
    prot.renewed(u, u + 20 * P, rwx);
    CHECK(prot.uniform_access(u, u + 20 * P) == 0);  // nothing mapped for the guest yet
    CHECK(prot.host_known(u, u + 20 * P, rwx));
    // The loader maps the new image's code with its final protection and
    // says so. The sync then trusts that record: a change behind its back
    // (made here to see it) stays, so no mprotect was made.
    REQUIRE(::mmap(h + u + 8 * P, 2 * P, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) !=
            MAP_FAILED);
    prot.host_mapped(u + 8 * P, u + 10 * P, PROT_READ | PROT_EXEC);
    REQUIRE(::mprotect(h + u + 8 * P, P, rwx) == 0);
    REQUIRE(prot.set(u + 8 * P, u + 10 * P, PROT_READ | PROT_EXEC));
    CHECK(host_prot_at(h + u + 8 * P) == rwx);
    // Once the new layout calls it code, it is never trusted again.
    REQUIRE(prot.set(u + 8 * P, u + 10 * P, PROT_READ | PROT_EXEC));
    CHECK(host_prot_at(h + u + 8 * P) == (PROT_READ | PROT_EXEC));
}
