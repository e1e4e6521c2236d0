#include <doctest/doctest.h>

#include <random>
#include <vector>

#include "vmm/memory/layout_table.hpp"

using spanvm::memory::LayoutRun;
using spanvm::memory::LayoutTable;

namespace {
constexpr std::uint64_t P = 0x1000;
constexpr int R = PROT_READ, RW = PROT_READ | PROT_WRITE, RX = PROT_READ | PROT_EXEC;
}

SCENARIO("the layout table reports exactly the runs whose access changed") {
    GIVEN("a table over pages [16, 1024), all inaccessible") {
        LayoutTable t(16 * P, 1024 * P);
        CHECK_FALSE(t.accessible(20 * P));
        WHEN("two mappings are made accessible") {
            auto a = t.set(32 * P, 40 * P, RW);
            auto b = t.set(48 * P, 64 * P, RW);
            THEN("each change is its own range, and lookups follow") {
                CHECK(a == std::vector<LayoutRun>{{32 * P, 40 * P, RW}});
                CHECK(b == std::vector<LayoutRun>{{48 * P, 64 * P, RW}});
                CHECK(t.accessible(32 * P));
                CHECK(t.accessible(39 * P + 4095));
                CHECK_FALSE(t.accessible(40 * P));
                CHECK(t.accessible(48 * P, 16 * P));
                CHECK_FALSE(t.accessible(38 * P, 4 * P));
            }
            AND_WHEN("a range over both and the hole between is made accessible") {
                auto c = t.set(30 * P, 70 * P, RW);
                THEN("only the holes changed, and the intervals merged into one") {
                    CHECK(c == std::vector<LayoutRun>{{30 * P, 32 * P, RW}, {40 * P, 48 * P, RW},
                                                      {64 * P, 70 * P, RW}});
                    CHECK(t.intervals() == std::vector<LayoutRun>{{30 * P, 70 * P, RW}});
                }
            }
            AND_WHEN("a guard page in the middle of one becomes inaccessible (mprotect PROT_NONE)") {
                auto c = t.set(50 * P, 51 * P, 0);
                THEN("the interval splits around it") {
                    CHECK(c == std::vector<LayoutRun>{{50 * P, 51 * P, 0}});
                    CHECK(t.intervals() == std::vector<LayoutRun>{{32 * P, 40 * P, RW}, {48 * P, 50 * P, RW},
                                                                  {51 * P, 64 * P, RW}});
                    CHECK_FALSE(t.accessible(50 * P));
                }
            }
            AND_WHEN("a range over both is unmapped") {
                auto c = t.set(36 * P, 52 * P, 0);
                THEN("only the accessible parts changed") {
                    CHECK(c == std::vector<LayoutRun>{{36 * P, 40 * P, 0}, {48 * P, 52 * P, 0}});
                    CHECK(t.intervals() == std::vector<LayoutRun>{{32 * P, 36 * P, RW}, {52 * P, 64 * P, RW}});
                }
            }
            AND_WHEN("the same state is set again") {
                THEN("nothing changed") {
                    CHECK(t.set(32 * P, 40 * P, RW).empty());
                    CHECK(t.set(40 * P, 48 * P, 0).empty());
                }
            }
            AND_WHEN("an adjacent range is made accessible") {
                (void)t.set(40 * P, 44 * P, RW);
                THEN("it joins its neighbour") {
                    CHECK(t.intervals() == std::vector<LayoutRun>{{32 * P, 44 * P, RW}, {48 * P, 64 * P, RW}});
                }
            }
        }
        WHEN("a range runs outside the table") {
            auto c = t.set(0, 20 * P, RW);
            auto d = t.set(1020 * P, 2000 * P, RW);
            THEN("it is clamped to the table") {
                CHECK(c == std::vector<LayoutRun>{{16 * P, 20 * P, RW}});
                CHECK(d == std::vector<LayoutRun>{{1020 * P, 1024 * P, RW}});
                CHECK_FALSE(t.accessible(1024 * P));
                CHECK_FALSE(t.accessible(8 * P));
            }
        }
    }
}

SCENARIO("the layout table keeps each page's access: read-only, executable, writable") {
    GIVEN("a read/write mapping over pages [32, 64)") {
        LayoutTable t(16 * P, 1024 * P);
        (void)t.set(32 * P, 64 * P, RW);
        WHEN("a page in the middle is made read-only (mprotect PROT_READ)") {
            auto c = t.set(40 * P, 41 * P, R);
            THEN("only that page changed, and it refuses writes but not reads") {
                CHECK(c == std::vector<LayoutRun>{{40 * P, 41 * P, R}});
                CHECK(t.intervals() == std::vector<LayoutRun>{{32 * P, 40 * P, RW}, {40 * P, 41 * P, R}, {41 * P, 64 * P, RW}});
                CHECK(t.accessible(40 * P, P));
                CHECK_FALSE(t.allows(40 * P, P, PROT_WRITE));
                CHECK_FALSE(t.allows(39 * P, 2 * P, PROT_WRITE));
                CHECK(t.allows(32 * P, 8 * P, PROT_WRITE));
            }
            AND_WHEN("it is made read/write again") {
                auto d = t.set(40 * P, 41 * P, RW);
                THEN("the three runs join into one again") {
                    CHECK(d == std::vector<LayoutRun>{{40 * P, 41 * P, RW}});
                    CHECK(t.intervals() == std::vector<LayoutRun>{{32 * P, 64 * P, RW}});
                }
            }
        }
        WHEN("write-only and exec-only protections are set") {
            (void)t.set(32 * P, 33 * P, PROT_WRITE);
            (void)t.set(33 * P, 34 * P, PROT_EXEC);
            THEN("they read as x86-64 gives them: readable too") {
                CHECK(t.access(32 * P) == RW);
                CHECK(t.access(33 * P) == RX);
                CHECK_FALSE(t.allows(32 * P, 2 * P, PROT_EXEC));
                CHECK(t.allows(32 * P, 2 * P, PROT_READ));
            }
        }
        WHEN("a range over the mapping and a hole is made read-only") {
            auto c = t.set(60 * P, 70 * P, R);
            THEN("both parts changed, and they come back as one run") {
                CHECK(c == std::vector<LayoutRun>{{60 * P, 70 * P, R}});
            }
        }
    }
}

TEST_CASE("the layout table agrees with a page-by-page model under random changes") {
    constexpr std::uint64_t lo = 4, hi = 300;
    LayoutTable t(lo * P, hi * P);
    std::vector<int> model(hi + 8, 0);
    const int kinds[] = {0, R, RW, RX, RW | PROT_EXEC, PROT_WRITE, PROT_EXEC};
    LayoutTable replica(lo * P, hi * P);  // kept only from the changed runs, as a node is
    std::mt19937_64 rng(42);
    for (int step = 0; step < 3000; ++step) {
        const std::uint64_t s = rng() % (hi + 4), e = s + 1 + rng() % 40;
        const int prot = kinds[rng() % std::size(kinds)];
        const int acc = spanvm::memory::normalize_access(prot);
        auto changed = t.set(s * P, e * P, prot);
        for (std::uint64_t p = std::max(s, lo); p < std::min(e, hi); ++p) model[p] = acc;
        // Changed runs are maximal, ascending, non-empty and of the new state.
        for (std::size_t i = 0; i < changed.size(); ++i) {
            CHECK(changed[i].access == acc);
            CHECK(changed[i].start < changed[i].end);
            if (i) CHECK(changed[i - 1].end < changed[i].start);
        }
        replica.apply(changed);
        for (std::uint64_t p = 0; p < hi + 8; ++p) {
            CAPTURE(step);
            CAPTURE(p);
            REQUIRE(t.access(p * P) == model[p]);
            REQUIRE(t.accessible(p * P) == (model[p] != 0));
            REQUIRE(t.allows(p * P, P, PROT_WRITE) == ((model[p] & PROT_WRITE) != 0));
        }
        REQUIRE(replica.intervals() == t.intervals());
        // Intervals are disjoint, and touching ones differ in access.
        auto iv = t.intervals();
        for (std::size_t i = 1; i < iv.size(); ++i) {
            REQUIRE(iv[i - 1].end <= iv[i].start);
            if (iv[i - 1].end == iv[i].start) REQUIRE(iv[i - 1].access != iv[i].access);
        }
        for (const auto& r : iv) REQUIRE(r.access != 0);
    }
}

TEST_CASE("intervals_in lists the intervals overlapping a range, cut to it") {
    LayoutTable t(16 * P, 1024 * P);
    (void)t.set(32 * P, 40 * P, RW);
    (void)t.set(40 * P, 48 * P, R);
    (void)t.set(64 * P, 80 * P, RX);
    CHECK(t.intervals_in(36 * P, 70 * P) ==
          std::vector<LayoutRun>{{36 * P, 40 * P, RW}, {40 * P, 48 * P, R}, {64 * P, 70 * P, RX}});
    CHECK(t.intervals_in(48 * P, 64 * P).empty());
    CHECK(t.intervals_in(70 * P, 70 * P).empty());
    CHECK(t.intervals_in(0, 2048 * P) == t.intervals());
}
