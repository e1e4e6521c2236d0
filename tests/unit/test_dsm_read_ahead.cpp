// The adaptive sequential read-ahead window of the DSM engine.
#include <doctest/doctest.h>

#include "vmm/dsm/read_ahead.hpp"

using namespace spanvm::dsm;

SCENARIO("read-ahead grows on a sequential walk and resets on a jump") {
    GIVEN("a 1000-page region") {
        ReadAhead ra(1000);
        THEN("a first fault reads nothing ahead") { CHECK(ra.on_read_fault(10).empty()); }
        WHEN("faults walk 10, 11") {
            CHECK(ra.on_read_fault(10).empty());
            auto r = ra.on_read_fault(11);
            THEN("the minimum window follows the faulting page") {
                CHECK(r.first == 12);
                CHECK(r.end == 12 + ReadAhead::kMinWindow);
            }
            AND_WHEN("the walk faults again inside the pages already asked for") {
                auto r2 = ra.on_read_fault(13);
                THEN("the window doubles and continues where the last one ended") {
                    CHECK(r2.first == r.end);
                    CHECK(r2.end == 14 + 2 * ReadAhead::kMinWindow);
                }
            }
            AND_WHEN("the next fault is elsewhere") {
                THEN("nothing is read ahead and the window resets") {
                    CHECK(ra.on_read_fault(500).empty());
                    CHECK(ra.window() == 0);
                }
            }
        }
        WHEN("a long walk runs") {
            for (PageIndex p = 0; p < 200; ++p) (void)ra.on_read_fault(p);
            THEN("the window stops at its maximum") { CHECK(ra.window() == ReadAhead::kMaxWindow); }
        }
        WHEN("the walk reaches the end of the region") {
            (void)ra.on_read_fault(997);
            (void)ra.on_read_fault(998);
            auto r = ra.on_read_fault(999);
            THEN("nothing beyond the last page is asked for") { CHECK(r.end <= 1000); }
        }
    }
}
