#pragma once
// Sample statistics used by every report (dsm-node benches, DSM fault
// histograms, uffd_fault_bench, bench-trap, bench-exit). Pure: no I/O.
// The bench scripts use the same definitions in bench/lib/stats.py.
//
// Percentile definition (nearest rank): of n samples sorted ascending, the
// q-percentile (0 <= q <= 1) is the k-th smallest, k = ceil(q * n) clamped to
// [1, n]. q * n is compared with a tolerance of 1e-9 so that a product that is
// an integer up to rounding (0.9 * 70 = 63.000000000000007) is not pushed one
// rank up. p0 is the minimum, p100 the maximum; no interpolation, so a
// percentile is always one of the samples.
//
// Median: the middle sample for odd n, the mean of the two middle samples
// for even n (so it is not a percentile for even n). 0 for no samples.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace spanvm::stats {

// The 1-based nearest rank of the q-percentile among n samples (0 if n == 0).
std::size_t nearest_rank(double q, std::size_t n);

// The q-percentile of samples sorted ascending; T{} if empty.
template <typename T>
T percentile_sorted(std::span<const T> sorted, double q) {
    if (sorted.empty()) return T{};
    return sorted[nearest_rank(q, sorted.size()) - 1];
}

double median(std::vector<double> samples);

// Summary of integer samples (nanoseconds in every caller): count, min, max,
// p50/p90/p99 by nearest rank, and the arithmetic mean (as a double; callers
// that report integers truncate it).
struct Summary {
    std::size_t count = 0;
    std::uint64_t min = 0, max = 0, p50 = 0, p90 = 0, p99 = 0;
    double mean = 0;
};
Summary summarize(std::vector<std::uint64_t> samples);

// Ordinary least-squares fit y = intercept + slope * x. ok is false (and the
// fit zero) for fewer than two points or when every x is equal.
struct LinearFit {
    double slope = 0, intercept = 0;
    bool ok = false;
};
LinearFit linear_fit(std::span<const double> x, std::span<const double> y);

}  // namespace spanvm::stats
