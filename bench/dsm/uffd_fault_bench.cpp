// uffd_fault_bench: local costs of the userfaultfd DSM backend on this host.
//
//   uffd_fault_bench [--samples N] [JSON_PATH]
//
// Measures, per page and over N distinct pages (after a warm-up):
//   missing_fault_rt   a read of an absent page until it returns, served by a
//                      handler thread with read_fault() + install(read-only)
//   wp_fault_rt        a write to a read-only page until it returns, served by
//                      read_fault() + make_writable()
//   writeprotect_set   downgrade(page, nullptr) of a writable page (UFFDIO_WRITEPROTECT WP)
//   writeprotect_clear make_writable() of a read-only page (UFFDIO_WRITEPROTECT 0, wakes)
//   madv_dontneed      invalidate(page, nullptr) of a writable dirty page (MADV_DONTNEED)
//   uffdio_copy        install(page, data, writable) with no waiter (UFFDIO_COPY)
//   invalidate_copyout invalidate(page, out) of a writable page (WP + 4 KiB copy + DONTNEED)
// Prints a table and, if JSON_PATH is given, writes the numbers there. The
// fault round trips include the handler thread's wake-up latency, which is
// what a guest vCPU sees. Not a test: nothing is asserted.
#include <sys/utsname.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "vmm/base/log.hpp"
#include "vmm/base/stats.hpp"
#include "vmm/dsm/uffd_region.hpp"

using spanvm::dsm::UffdRegion;

namespace {

using Clock = std::chrono::steady_clock;

std::uint64_t since_ns(Clock::time_point t0) {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count());
}

// One row of the table: nearest-rank figures (vmm/base/stats.hpp), in ns.
struct Summary {
    std::string name;
    spanvm::stats::Summary ns;
};

Summary summarize(std::string name, std::vector<std::uint64_t> v) {
    return Summary{std::move(name), spanvm::stats::summarize(std::move(v))};
}

// The --json file: keys bench, kernel, samples, features, results_ns{row:
// {count, min, p50, p90, p99, max, mean}} in this order; every figure an integer.
nlohmann::ordered_json report_json(const std::string& kernel, std::size_t samples, std::uint64_t features,
                                   const std::vector<Summary>& results) {
    using Json = nlohmann::ordered_json;
    Json rows = Json::object();
    for (const auto& r : results)
        rows[r.name] = Json{{"count", r.ns.count}, {"min", r.ns.min}, {"p50", r.ns.p50}, {"p90", r.ns.p90},
                            {"p99", r.ns.p99},     {"max", r.ns.max}, {"mean", static_cast<std::uint64_t>(r.ns.mean)}};
    return Json{{"bench", "uffd_fault_bench"},
                {"kernel", kernel},
                {"samples", samples},
                {"features", features},
                {"results_ns", std::move(rows)}};
}

// The table on stdout, times in us.
void print_table(const std::string& kernel, std::size_t samples, const std::vector<Summary>& results) {
    fmt::print("uffd_fault_bench: kernel {}, {} samples per row, times in us\n", kernel, samples);
    fmt::print("  {:<20}{:>8}{:>9}{:>9}{:>9}{:>9}{:>9}{:>9}\n", "operation", "count", "min", "p50", "p90", "p99",
               "max", "mean");
    auto us = [](double ns) { return fmt::format("{:.2f}", ns / 1000.0); };
    for (const auto& r : results) {
        const auto& s = r.ns;
        fmt::print("  {:<20}{:>8}{:>9}{:>9}{:>9}{:>9}{:>9}{:>9}\n", r.name, s.count, us(static_cast<double>(s.min)),
                   us(static_cast<double>(s.p50)), us(static_cast<double>(s.p90)), us(static_cast<double>(s.p99)),
                   us(static_cast<double>(s.max)), us(static_cast<double>(static_cast<std::uint64_t>(s.mean))));
    }
}

// Serves faults until stopped: MISSING -> install read-only, WP -> make_writable.
// Any error is fatal for the process (fail_all), as in the real handler.
class Handler {
public:
    explicit Handler(UffdRegion& r) : region_(r), data_(UffdRegion::kPageSize, 0x5a) {
        thread_ = std::thread([this] { run(); });
    }
    ~Handler() {
        stop_.store(true);
        thread_.join();
    }

private:
    void run() {
        while (!stop_.load(std::memory_order_relaxed)) {
            auto f = region_.read_fault(50);
            if (!f) region_.fail_all("bench handler: " + f.error().message);
            if (!f->has_value()) continue;
            const auto& fault = **f;
            if (fault.is_wp) {
                if (auto r = region_.make_writable(fault.page); !r)
                    region_.fail_all("bench handler: " + r.error().message);
            } else if (region_.presence(fault.page) != UffdRegion::Presence::absent) {
                if (auto r = region_.wake(fault.page); !r) region_.fail_all("bench handler: " + r.error().message);
            } else if (auto r = region_.install(fault.page, data_.data(), false); !r) {
                region_.fail_all("bench handler: " + r.error().message);
            }
        }
    }
    UffdRegion& region_;
    std::vector<std::uint8_t> data_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

template <typename Op> std::vector<std::uint64_t> time_each(std::size_t first, std::size_t n, Op op) {
    std::vector<std::uint64_t> v;
    v.reserve(n);
    for (std::size_t i = first; i < first + n; ++i) {
        auto t0 = Clock::now();
        op(i);
        v.push_back(since_ns(t0));
    }
    return v;
}

void check(const spanvm::Result<void>& r, const char* what) {
    if (!r) throw std::runtime_error(fmt::format("{}: {}", what, r.error().message));
}

std::string kernel_release() {
    utsname u{};
    if (uname(&u) != 0) return "unknown";
    return u.release;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"userfaultfd DSM backend micro-benchmark"};
    std::size_t samples = 5000;
    std::string json_path;
    app.add_option("--samples,-n", samples, "pages measured per operation")->check(CLI::Range(10, 1'000'000));
    app.add_option("json", json_path, "write results as JSON to this path");
    CLI11_PARSE(app, argc, argv);

    try {
        constexpr std::size_t kWarmup = 200;
        const std::size_t pages = kWarmup + samples;
        auto created = UffdRegion::create(pages);
        if (!created) throw std::runtime_error(created.error().message);
        UffdRegion& region = **created;
        region.start_watchdog(std::chrono::seconds(10));
        auto* base = region.base();
        std::vector<Summary> results;

        {
            Handler handler(region);
            auto touch_read = [&](std::size_t p) {
                (void)*reinterpret_cast<volatile std::uint64_t*>(base + p * UffdRegion::kPageSize);
            };
            auto touch_write = [&](std::size_t p) {
                *reinterpret_cast<volatile std::uint64_t*>(base + p * UffdRegion::kPageSize) = p;
            };
            (void)time_each(0, kWarmup, touch_read);
            (void)time_each(0, kWarmup, touch_write);
            results.push_back(summarize("missing_fault_rt", time_each(kWarmup, samples, touch_read)));
            results.push_back(summarize("wp_fault_rt", time_each(kWarmup, samples, touch_write)));
        }
        // All measured pages are writable and dirty now; no faults from here on.
        results.push_back(summarize("writeprotect_set", time_each(kWarmup, samples, [&](std::size_t p) {
                                        check(region.downgrade(p, nullptr), "downgrade");
                                    })));
        results.push_back(summarize("writeprotect_clear", time_each(kWarmup, samples, [&](std::size_t p) {
                                        check(region.make_writable(p), "make_writable");
                                    })));
        results.push_back(summarize("madv_dontneed", time_each(kWarmup, samples, [&](std::size_t p) {
                                        check(region.invalidate(p, nullptr), "invalidate");
                                    })));
        std::vector<std::uint8_t> data(UffdRegion::kPageSize, 0xa5), out(UffdRegion::kPageSize);
        results.push_back(summarize("uffdio_copy", time_each(kWarmup, samples, [&](std::size_t p) {
                                        auto r = region.install(p, data.data(), true);
                                        if (!r) throw std::runtime_error("install: " + r.error().message);
                                    })));
        results.push_back(summarize("invalidate_copyout", time_each(kWarmup, samples, [&](std::size_t p) {
                                        check(region.invalidate(p, out.data()), "invalidate");
                                    })));
        region.stop_watchdog();

        std::string kernel = kernel_release();
        print_table(kernel, samples, results);

        if (!json_path.empty()) {
            std::string j = report_json(kernel, samples, region.features(), results).dump() + "\n";
            std::FILE* f = std::fopen(json_path.c_str(), "w");
            if (f == nullptr) throw std::runtime_error(fmt::format("cannot write {}: {}", json_path, std::strerror(errno)));
            bool ok = std::fwrite(j.data(), 1, j.size(), f) == j.size();
            ok = (std::fclose(f) == 0) && ok;
            if (!ok) throw std::runtime_error(fmt::format("writing {} failed", json_path));
            fmt::print("wrote {}\n", json_path);
        }
    } catch (const std::exception& e) {
        spanvm::log::error("uffd_fault_bench: {}", e.what());
        return 1;
    }
    return 0;
}
