#include <doctest/doctest.h>
#include <sys/mman.h>

#include "vmm/memory/page_access_map.hpp"

using spanvm::memory::PageAccessMap;

SCENARIO("the page access map sets ranges a word at a time") {
    GIVEN("a map of 1 GiB, all inaccessible") {
        PageAccessMap m(1ull << 30);
        CHECK_FALSE(m.page(0));
        CHECK_FALSE(m.accessible(0x200000, 0x1000));
        WHEN("ranges that start and end inside words, span words, and cover whole words are set") {
            m.set(0x3000, 0x2000, true);                  // pages 3, 4
            m.set(60 * 0x1000, 10 * 0x1000, true);        // pages 60..69, across a word boundary
            m.set(128 * 0x1000, 192 * 0x1000, true);      // pages 128..319: three whole words
            m.set(200 * 0x1000, 0x1000, false);           // page 200 back off
            THEN("exactly those pages are accessible") {
                for (uint64_t p = 0; p < 400; ++p) {
                    const bool want = p == 3 || p == 4 || (p >= 60 && p < 70) || (p >= 128 && p < 320 && p != 200);
                    CAPTURE(p);
                    CHECK(m.page(p) == want);
                }
                CHECK(m.accessible(128 * 0x1000, 72 * 0x1000));
                CHECK_FALSE(m.accessible(128 * 0x1000, 73 * 0x1000));
                CHECK(m.accessible_prefix(190 * 0x1000 + 5, 1ull << 20) == 10 * 0x1000 - 5);
            }
        }
        WHEN("pages are given read-only and read/write access") {
            m.set(0x10000, 0x4000, PROT_READ | PROT_WRITE);  // pages 16..19
            m.set(0x11000, 0x1000, PROT_READ);               // page 17 read-only
            m.set(0x13000, 0x1000, PROT_READ | PROT_EXEC);   // page 19 read+exec
            THEN("all are readable, and only the read/write ones writable") {
                CHECK(m.accessible(0x10000, 0x4000));
                CHECK(m.writable(0x10000, 0x1000));
                CHECK_FALSE(m.writable(0x11000, 1));
                CHECK_FALSE(m.writable(0x10000, 0x2000));
                CHECK(m.writable(0x12000, 0x1000));
                CHECK_FALSE(m.page_writable(19));
            }
            AND_WHEN("one is made inaccessible and another read/write again") {
                m.set(0x12000, 0x1000, PROT_NONE);
                m.set(0x11000, 0x1000, PROT_READ | PROT_WRITE);
                THEN("the inaccessible one is neither readable nor writable") {
                    CHECK_FALSE(m.page(18));
                    CHECK_FALSE(m.page_writable(18));
                    CHECK(m.writable(0x10000, 0x2000));
                }
            }
        }
        WHEN("a range runs past the end of RAM") {
            m.set((1ull << 30) - 0x2000, 0x10000, true);
            THEN("only the pages inside RAM are set") {
                CHECK(m.page((1ull << 18) - 1));
                CHECK(m.page((1ull << 18) - 2));
                CHECK_FALSE(m.page(1ull << 18));
            }
        }
        WHEN("the whole map is set and cleared") {
            m.set(0, 1ull << 30, true);
            CHECK(m.accessible(0, 1ull << 30));
            m.set(0, 1ull << 30, false);
            THEN("no page is accessible") { CHECK(m.accessible_prefix(0, 1ull << 30) == 0); }
        }
    }
    GIVEN("a map of 24 GiB with pages set in a few chunks far apart") {
        PageAccessMap m(24ull << 30);
        const uint64_t chunk = PageAccessMap::kChunkWords * 64 * 0x1000;  // guest bytes per summary bit
        m.set(0x400000, 0x5000, true);
        m.set(5 * chunk - 0x1000, 0x2000, true);  // the last page of one chunk and the first of the next
        m.set((24ull << 30) - 0x3000, 0x3000, true);
        WHEN("all of RAM but one page of the middle run is cleared") {
            m.set(0, 5 * chunk, false);
            THEN("only the pages outside the cleared range stay set") {
                CHECK_FALSE(m.page(0x400000 >> 12));
                CHECK_FALSE(m.page((5 * chunk - 0x1000) >> 12));
                CHECK(m.page((5 * chunk) >> 12));
                CHECK(m.accessible((24ull << 30) - 0x3000, 0x3000));
            }
            AND_WHEN("the rest is cleared and a page set again") {
                m.set(0, 24ull << 30, false);
                m.set(7 * chunk + 0x1000, 0x1000, true);
                THEN("that page is the only one set") {
                    CHECK_FALSE(m.page(0x400000 >> 12));
                    CHECK_FALSE(m.page((5 * chunk) >> 12));
                    CHECK_FALSE(m.page(((24ull << 30) - 0x1000) >> 12));
                    CHECK_FALSE(m.page((7 * chunk) >> 12));
                    CHECK(m.page((7 * chunk + 0x1000) >> 12));
                    CHECK(m.accessible_prefix(7 * chunk + 0x2000, 24ull << 30) == 0);
                }
            }
        }
    }
}
