#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include "vmm/base/stats.hpp"

using namespace spanvm::stats;

SCENARIO("nearest-rank percentiles") {
    GIVEN("the samples 1..10") {
        std::vector<std::uint64_t> v{10, 9, 8, 7, 6, 5, 4, 3, 2, 1};
        Summary s = summarize(v);
        THEN("p50 is the 5th, p90 the 9th and p99 the 10th smallest") {
            CHECK(s.count == 10);
            CHECK(s.min == 1);
            CHECK(s.max == 10);
            CHECK(s.p50 == 5);
            CHECK(s.p90 == 9);
            CHECK(s.p99 == 10);
            CHECK(s.mean == doctest::Approx(5.5));
        }
    }
    GIVEN("rank edge cases") {
        CHECK(nearest_rank(0.5, 0) == 0);
        CHECK(nearest_rank(0.0, 5) == 1);  // p0 is the minimum
        CHECK(nearest_rank(1.0, 5) == 5);  // p100 the maximum
        CHECK(nearest_rank(0.5, 1) == 1);
        CHECK(nearest_rank(0.5, 3) == 2);
        CHECK(nearest_rank(0.99, 100) == 99);
        CHECK(nearest_rank(0.99, 101) == 100);
        // 0.9 * 70 is 63.000000000000007 in doubles: still rank 63.
        CHECK(nearest_rank(0.9, 70) == 63);
        CHECK(nearest_rank(0.9, 71) == 64);
    }
    GIVEN("a percentile of a sorted span") {
        std::vector<double> sorted{1.5, 2.5, 3.5, 4.5};
        CHECK(percentile_sorted<double>(sorted, 0.5) == 2.5);
        CHECK(percentile_sorted<double>(sorted, 0.75) == 3.5);
        CHECK(percentile_sorted<double>({}, 0.5) == 0);
    }
    GIVEN("no samples") {
        Summary s = summarize({});
        CHECK(s.count == 0);
        CHECK(s.p99 == 0);
        CHECK(s.mean == 0);
    }
}

SCENARIO("median") {
    CHECK(median({}) == 0);
    CHECK(median({3}) == 3);
    CHECK(median({5, 1, 3}) == 3);
    CHECK(median({4, 1, 3, 2}) == doctest::Approx(2.5));  // mean of the two middle ones
}

SCENARIO("least-squares linear fit") {
    GIVEN("points on a line") {
        std::vector<double> x{1, 2, 4, 8, 16}, y;
        for (double xi : x) y.push_back(3 + 0.5 * xi);
        LinearFit f = linear_fit(x, y);
        CHECK(f.ok);
        CHECK(f.slope == doctest::Approx(0.5));
        CHECK(f.intercept == doctest::Approx(3));
    }
    GIVEN("noisy points") {
        std::vector<double> x{0, 1, 2, 3}, y{1, 3, 2, 4};
        LinearFit f = linear_fit(x, y);
        CHECK(f.slope == doctest::Approx(0.8));
        CHECK(f.intercept == doctest::Approx(1.3));
    }
    GIVEN("degenerate input") {
        std::vector<double> one{1}, same{2, 2, 2}, y{1, 2, 3};
        CHECK_FALSE(linear_fit(one, one).ok);
        CHECK_FALSE(linear_fit(same, y).ok);
    }
}
