#include <doctest/doctest.h>

#include <map>
#include <random>

#include "vmm/memory/fill_table.hpp"

using spanvm::memory::FillRun;
using spanvm::memory::FillTable;
using spanvm::memory::PageFill;

namespace {
constexpr std::uint64_t P = 0x1000;
}

SCENARIO("a page's filler is zero unless a file run covers it") {
    FillTable t;
    CHECK(t.empty());
    CHECK(t.at(5 * P) == PageFill{});
    WHEN("a file is set over pages [10, 20) at offset 0x3000") {
        t.set({10 * P, 20 * P, 7, 0x3000});
        THEN("each page names its own offset, the rest stays zero") {
            CHECK(t.at(10 * P) == PageFill{7, 0x3000});
            CHECK(t.at(15 * P + 123) == PageFill{7, 0x3000 + 5 * P});
            CHECK(t.at(20 * P) == PageFill{});
            CHECK(t.at(9 * P) == PageFill{});
            CHECK(t.any_in(0, 11 * P));
            CHECK(t.any_in(19 * P, 30 * P));
            CHECK_FALSE(t.any_in(20 * P, 30 * P));
            CHECK_FALSE(t.any_in(0, 10 * P));
        }
        AND_WHEN("its middle is reset to zero (munmap)") {
            t.set({12 * P, 14 * P, spanvm::memory::kZeroFile, 0});
            THEN("the two sides keep their offsets") {
                CHECK(t.at(11 * P) == PageFill{7, 0x3000 + P});
                CHECK(t.at(12 * P) == PageFill{});
                CHECK(t.at(13 * P) == PageFill{});
                CHECK(t.at(14 * P) == PageFill{7, 0x3000 + 4 * P});
                CHECK(t.runs().size() == 2);
            }
            AND_WHEN("the hole is filled again with the same file continuing") {
                t.set({12 * P, 14 * P, 7, 0x3000 + 2 * P});
                THEN("the runs join") { CHECK(t.runs() == std::vector<FillRun>{{10 * P, 20 * P, 7, 0x3000}}); }
            }
        }
        AND_WHEN("another file replaces part of it (a re-mmap)") {
            t.set({15 * P, 25 * P, 8, 0});
            THEN("the new file wins where it lies") {
                CHECK(t.at(14 * P) == PageFill{7, 0x3000 + 4 * P});
                CHECK(t.at(15 * P) == PageFill{8, 0});
                CHECK(t.at(24 * P) == PageFill{8, 9 * P});
            }
        }
    }
}

TEST_CASE("the fill table agrees with a page-by-page model under random changes") {
    std::mt19937 rng(14);
    FillTable t;
    std::map<std::uint64_t, PageFill> model;  // page -> fill (absent: zero)
    for (int step = 0; step < 3000; ++step) {
        const std::uint64_t a = rng() % 64, b = a + 1 + rng() % 16;
        const std::uint32_t file = rng() % 3;  // 0 = zero
        const std::uint64_t off = (rng() % 8) * P;
        t.set({a * P, b * P, file, off});
        for (std::uint64_t p = a; p < b; ++p) {
            if (file == 0)
                model.erase(p);
            else
                model[p] = {file, off + (p - a) * P};
        }
        for (std::uint64_t p = 0; p < 90; ++p) {
            auto it = model.find(p);
            REQUIRE(t.at(p * P) == (it == model.end() ? PageFill{} : it->second));
        }
        // Runs are maximal: no two touching runs continue one file.
        auto rs = t.runs();
        for (std::size_t i = 1; i < rs.size(); ++i)
            REQUIRE_FALSE((rs[i - 1].end == rs[i].start && rs[i - 1].file == rs[i].file &&
                           rs[i - 1].offset + (rs[i].start - rs[i - 1].start) == rs[i].offset));
    }
}
