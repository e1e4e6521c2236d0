#include "vmm/base/stats.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace spanvm::stats {

std::size_t nearest_rank(double q, std::size_t n) {
    if (n == 0) return 0;
    const double x = std::clamp(q, 0.0, 1.0) * static_cast<double>(n);
    auto k = static_cast<std::size_t>(x);  // floor
    if (static_cast<double>(k) < x - 1e-9) ++k;
    return std::clamp<std::size_t>(k, 1, n);
}

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const std::size_t m = v.size() / 2;
    return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

Summary summarize(std::vector<std::uint64_t> v) {
    Summary s;
    s.count = v.size();
    if (v.empty()) return s;
    std::sort(v.begin(), v.end());
    std::span<const std::uint64_t> sorted(v);
    s.min = v.front();
    s.max = v.back();
    s.p50 = percentile_sorted(sorted, 0.50);
    s.p90 = percentile_sorted(sorted, 0.90);
    s.p99 = percentile_sorted(sorted, 0.99);
    long double sum = std::accumulate(v.begin(), v.end(), 0.0L);
    s.mean = static_cast<double>(sum / static_cast<long double>(v.size()));
    return s;
}

LinearFit linear_fit(std::span<const double> x, std::span<const double> y) {
    LinearFit f;
    const std::size_t n = std::min(x.size(), y.size());
    if (n < 2) return f;
    double sx = 0, sy = 0;
    for (std::size_t i = 0; i < n; ++i) sx += x[i], sy += y[i];
    const double mx = sx / static_cast<double>(n), my = sy / static_cast<double>(n);
    double sxx = 0, sxy = 0;
    for (std::size_t i = 0; i < n; ++i) {
        sxx += (x[i] - mx) * (x[i] - mx);
        sxy += (x[i] - mx) * (y[i] - my);
    }
    if (sxx == 0) return f;
    f.slope = sxy / sxx;
    f.intercept = my - f.slope * mx;
    f.ok = true;
    return f;
}

}  // namespace spanvm::stats
