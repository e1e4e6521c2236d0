// Per-thread trend detection for DSM runs (vmm/dsm/run_detector.hpp).
#include <doctest/doctest.h>

#include "vmm/dsm/run_detector.hpp"

using namespace spanvm::dsm;

SCENARIO("a run detector follows one thread's sequential stream") {
    GIVEN("a 1000-page region") {
        RunDetector rd(1000);
        THEN("a stream's first fault asks for nothing") { CHECK(rd.on_fault(7, true, 10).empty()); }
        WHEN("thread 7 write-faults 10, 11") {
            CHECK(rd.on_fault(7, true, 10).empty());
            auto r = rd.on_fault(7, true, 11);
            THEN("the minimum run follows the faulting page") {
                CHECK(r.first == 12);
                CHECK(r.end == 12 + RunDetector::kMinRun);
            }
            AND_WHEN("it faults again inside the run already asked for") {
                auto r2 = rd.on_fault(7, true, 13);
                THEN("the run doubles and continues where the last one ended") {
                    CHECK(r2.first == r.end);
                    CHECK(r2.end == 14 + 2 * RunDetector::kMinRun);
                }
            }
            AND_WHEN("it faults at the first page past the run") {
                auto r2 = rd.on_fault(7, true, r.end);
                THEN("that continues the stream too") {
                    CHECK(r2.first == r.end + 1);
                    CHECK(rd.run_length(7, true) == 2 * RunDetector::kMinRun);
                }
            }
            AND_WHEN("thread 8 faults elsewhere in between") {
                CHECK(rd.on_fault(8, true, 500).empty());
                auto r2 = rd.on_fault(7, true, 13);
                THEN("thread 7's stream is not disturbed") { CHECK(r2.first == r.end); }
            }
            AND_WHEN("thread 7 reads elsewhere in between") {
                CHECK(rd.on_fault(7, false, 500).empty());
                THEN("its write stream is not disturbed") { CHECK_FALSE(rd.on_fault(7, true, 13).empty()); }
            }
        }
        WHEN("a long walk runs") {
            for (PageIndex p = 0; p < 300; ++p) (void)rd.on_fault(1, false, p);
            THEN("the run stops at its maximum") { CHECK(rd.run_length(1, false) == RunDetector::kMaxRun); }
        }
        WHEN("the walk reaches the end of the region") {
            (void)rd.on_fault(1, true, 997);
            (void)rd.on_fault(1, true, 998);
            auto r = rd.on_fault(1, true, 999);
            THEN("nothing beyond the region is asked for") { CHECK(r.empty()); }
        }
    }
}

SCENARIO("the majority trend survives stray faults and is lost to a new pattern") {
    GIVEN("a stream with an established +1 trend") {
        RunDetector rd(100000);
        PageIndex p = 100;
        for (; p < 106; ++p) (void)rd.on_fault(3, true, p);
        const PageIndex run = rd.run_length(3, true);
        REQUIRE(run >= RunDetector::kMinRun);
        WHEN("one stray fault lands far away") {
            auto stray = rd.on_fault(3, true, 5000);
            THEN("it asks for nothing but keeps the stream and its run") {
                CHECK(stray.empty());
                CHECK(rd.run_length(3, true) == run);
                AND_THEN("the stream continues where it was") {
                    auto r = rd.on_fault(3, true, p);
                    CHECK_FALSE(r.empty());
                    CHECK(rd.run_length(3, true) == std::min(2 * run, RunDetector::kMaxRun));
                }
            }
        }
        WHEN("strays outvote the trend") {
            for (PageIndex k = 0; k < RunDetector::kHistory; ++k) (void)rd.on_fault(3, true, 50000 + 7 * k);
            THEN("the stream restarted with no run") { CHECK(rd.run_length(3, true) == 0); }
        }
    }
    GIVEN("a backward walk") {
        RunDetector rd(1000);
        THEN("no run is ever asked for") {
            for (PageIndex p = 900; p > 800; --p) CHECK(rd.on_fault(1, true, p).empty());
        }
    }
}

SCENARIO("at most kStreams streams are tracked, the least recently used replaced") {
    RunDetector rd(1 << 20);
    for (std::uint32_t t = 1; t <= RunDetector::kStreams; ++t) {
        (void)rd.on_fault(t, true, t * 1000);
        (void)rd.on_fault(t, true, t * 1000 + 1);
    }
    CHECK(rd.run_length(1, true) == RunDetector::kMinRun);
    (void)rd.on_fault(1, true, 1002);  // 1 is now the most recent
    (void)rd.on_fault(99, true, 7);    // replaces thread 2, the least recent
    CHECK(rd.run_length(2, true) == 0);
    CHECK(rd.run_length(1, true) == 2 * RunDetector::kMinRun);
}
