#include <doctest/doctest.h>

#include <random>
#include <vector>

#include "vmm/memory/layout_table.hpp"

using spanvm::memory::LayoutRun;
using spanvm::memory::LayoutTable;

namespace {
constexpr std::uint64_t P = 0x1000;
}

SCENARIO("the layout table reports exactly the runs whose access changed") {
    GIVEN("a table over pages [16, 1024), all inaccessible") {
        LayoutTable t(16 * P, 1024 * P);
        CHECK_FALSE(t.accessible(20 * P));
        WHEN("two mappings are made accessible") {
            auto a = t.set(32 * P, 40 * P, true);
            auto b = t.set(48 * P, 64 * P, true);
            THEN("each change is its own range, and lookups follow") {
                CHECK(a == std::vector<LayoutRun>{{32 * P, 40 * P, true}});
                CHECK(b == std::vector<LayoutRun>{{48 * P, 64 * P, true}});
                CHECK(t.accessible(32 * P));
                CHECK(t.accessible(39 * P + 4095));
                CHECK_FALSE(t.accessible(40 * P));
                CHECK(t.accessible(48 * P, 16 * P));
                CHECK_FALSE(t.accessible(38 * P, 4 * P));
            }
            AND_WHEN("a range over both and the hole between is made accessible") {
                auto c = t.set(30 * P, 70 * P, true);
                THEN("only the holes changed, and the intervals merged into one") {
                    CHECK(c == std::vector<LayoutRun>{{30 * P, 32 * P, true}, {40 * P, 48 * P, true},
                                                      {64 * P, 70 * P, true}});
                    CHECK(t.intervals() == std::vector<LayoutRun>{{30 * P, 70 * P, true}});
                }
            }
            AND_WHEN("a guard page in the middle of one becomes inaccessible (mprotect PROT_NONE)") {
                auto c = t.set(50 * P, 51 * P, false);
                THEN("the interval splits around it") {
                    CHECK(c == std::vector<LayoutRun>{{50 * P, 51 * P, false}});
                    CHECK(t.intervals() == std::vector<LayoutRun>{{32 * P, 40 * P, true}, {48 * P, 50 * P, true},
                                                                  {51 * P, 64 * P, true}});
                    CHECK_FALSE(t.accessible(50 * P));
                }
            }
            AND_WHEN("a range over both is unmapped") {
                auto c = t.set(36 * P, 52 * P, false);
                THEN("only the accessible parts changed") {
                    CHECK(c == std::vector<LayoutRun>{{36 * P, 40 * P, false}, {48 * P, 52 * P, false}});
                    CHECK(t.intervals() == std::vector<LayoutRun>{{32 * P, 36 * P, true}, {52 * P, 64 * P, true}});
                }
            }
            AND_WHEN("the same state is set again") {
                THEN("nothing changed") {
                    CHECK(t.set(32 * P, 40 * P, true).empty());
                    CHECK(t.set(40 * P, 48 * P, false).empty());
                }
            }
            AND_WHEN("an adjacent range is made accessible") {
                (void)t.set(40 * P, 44 * P, true);
                THEN("it joins its neighbour") {
                    CHECK(t.intervals() == std::vector<LayoutRun>{{32 * P, 44 * P, true}, {48 * P, 64 * P, true}});
                }
            }
        }
        WHEN("a range runs outside the table") {
            auto c = t.set(0, 20 * P, true);
            auto d = t.set(1020 * P, 2000 * P, true);
            THEN("it is clamped to the table") {
                CHECK(c == std::vector<LayoutRun>{{16 * P, 20 * P, true}});
                CHECK(d == std::vector<LayoutRun>{{1020 * P, 1024 * P, true}});
                CHECK_FALSE(t.accessible(1024 * P));
                CHECK_FALSE(t.accessible(8 * P));
            }
        }
    }
}

TEST_CASE("the layout table agrees with a page-by-page model under random changes") {
    constexpr std::uint64_t lo = 4, hi = 300;
    LayoutTable t(lo * P, hi * P);
    std::vector<bool> model(hi + 8, false);
    LayoutTable replica(lo * P, hi * P);  // kept only from the changed runs, as a node is
    std::mt19937_64 rng(42);
    for (int step = 0; step < 3000; ++step) {
        const std::uint64_t s = rng() % (hi + 4), e = s + 1 + rng() % 40;
        const bool acc = rng() % 2;
        auto changed = t.set(s * P, e * P, acc);
        for (std::uint64_t p = std::max(s, lo); p < std::min(e, hi); ++p) model[p] = acc;
        // Changed runs are maximal, ascending, non-empty and of the new state.
        for (std::size_t i = 0; i < changed.size(); ++i) {
            CHECK(changed[i].accessible == acc);
            CHECK(changed[i].start < changed[i].end);
            if (i) CHECK(changed[i - 1].end < changed[i].start);
        }
        replica.apply(changed);
        for (std::uint64_t p = 0; p < hi + 8; ++p) {
            CAPTURE(step);
            CAPTURE(p);
            REQUIRE(t.accessible(p * P) == model[p]);
        }
        REQUIRE(replica.intervals() == t.intervals());
        // Intervals are disjoint and non-adjacent.
        auto iv = t.intervals();
        for (std::size_t i = 1; i < iv.size(); ++i) REQUIRE(iv[i - 1].end < iv[i].start);
    }
}
