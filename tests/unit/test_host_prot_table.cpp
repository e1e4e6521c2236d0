// memory::HostProtTable: the record of the host protection of guest RAM,
// and the one span an mprotect() must cover.
#include <doctest/doctest.h>

#include <sys/mman.h>

#include "vmm/memory/host_prot_table.hpp"

using spanvm::memory::HostProtTable;

namespace {
constexpr std::uint64_t P = 0x1000;
constexpr int R = PROT_READ, RW = PROT_READ | PROT_WRITE, RWX = PROT_READ | PROT_WRITE | PROT_EXEC;
}  // namespace

TEST_CASE("an unrecorded range differs from every protection, PROT_NONE included") {
    HostProtTable t;
    CHECK(t.at(5 * P) == HostProtTable::kUnknown);
    auto s = t.differing(4 * P, 8 * P, PROT_NONE);
    CHECK(s.first == 4 * P);
    CHECK(s.last == 8 * P);
    CHECK(t.differing(4 * P, 4 * P, R).empty());
}

TEST_CASE("a recorded range differs only where its protection is not the one asked for") {
    HostProtTable t;
    t.set(0, 16 * P, RWX);  // renewed memory
    t.set(4 * P, 6 * P, R);
    CHECK(t.at(3 * P) == RWX);
    CHECK(t.at(4 * P) == R);
    CHECK(t.at(6 * P) == RWX);
    CHECK(t.differing(0, 16 * P, RWX).first == 4 * P);
    CHECK(t.differing(0, 16 * P, RWX).last == 6 * P);
    CHECK(t.differing(4 * P, 6 * P, R).empty());
    CHECK(t.differing(0, 4 * P, RWX).empty());
    // Two differing parts with an equal one between: one span over all three.
    t.set(10 * P, 12 * P, PROT_NONE);
    auto s = t.differing(0, 16 * P, RWX);
    CHECK(s.first == 4 * P);
    CHECK(s.last == 12 * P);
    // A gap past the record is unknown.
    s = t.differing(14 * P, 20 * P, RWX);
    CHECK(s.first == 16 * P);
    CHECK(s.last == 20 * P);
}

TEST_CASE("forgetting cuts the record, and equal neighbours join") {
    HostProtTable t;
    t.set(0, 4 * P, RW);
    t.set(4 * P, 8 * P, RW);
    CHECK(t.size() == 1);
    t.set(2 * P, 3 * P, HostProtTable::kUnknown);
    CHECK(t.size() == 2);
    CHECK(t.at(2 * P) == HostProtTable::kUnknown);
    CHECK(t.at(1 * P) == RW);
    CHECK(t.at(3 * P) == RW);
    auto s = t.differing(0, 8 * P, RW);
    CHECK(s.first == 2 * P);
    CHECK(s.last == 3 * P);
    t.set(2 * P, 3 * P, RW);
    CHECK(t.size() == 1);
    CHECK(t.differing(0, 8 * P, RW).empty());
}
