#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "vmm/dsm/dsm_stats.hpp"
#include "vmm/dsm_node/report.hpp"

using namespace spanvm::dsm_node;
using spanvm::dsm::DsmStats;

namespace {

std::vector<std::string> keys(const nlohmann::ordered_json& j) {
    std::vector<std::string> k;
    for (auto it = j.begin(); it != j.end(); ++it) k.push_back(it.key());
    return k;
}

NodeReport base_report(WorkloadFigures f) {
    DsmStats st(0, "127.0.0.1:7400", 4);
    NodeReport r{"w", 0, 2, 4, "interleave", 0, true, std::move(f), st.snapshot(32)};
    return r;
}

}  // namespace

SCENARIO("the dsm-node --json report keeps its keys and their order") {
    GIVEN("a counter run") {
        auto j = report_json(base_report(CounterFigures{16, 8, 2}));
        THEN("the header, the figures and the stats come in order") {
            CHECK(keys(j) == std::vector<std::string>{"workload", "node", "nodes", "pages", "home", "hold_us", "ok",
                                                      "total", "expected_each", "counters", "stats"});
            CHECK(j.dump().find(R"("ok":true,"total":16,"expected_each":8,"counters":2,"stats":{"node":0,)") !=
                  std::string::npos);
        }
    }
    GIVEN("another node's report (no figures)") {
        auto j = report_json(base_report(std::monostate{}));
        CHECK(keys(j) == std::vector<std::string>{"workload", "node", "nodes", "pages", "home", "hold_us", "ok",
                                                  "stats"});
    }
    GIVEN("a bench run with a pair figure") {
        BenchFigures b;
        b.main = SampleSummary{10, 1.004, 2.346, 3, 4, 5, 2.5};
        b.measuring_node = 1;
        b.ratio_p50_vs_rtt_plus_uffd = 1.23456;
        b.pair = BenchFigures::Pair{"home_read", SampleSummary{}, std::numeric_limits<double>::infinity()};
        auto j = report_json(base_report(b));
        THEN("summaries are flat with prefixes, rounded, and a non-finite ratio is null") {
            auto k = keys(j);
            REQUIRE(k.size() > 12);
            CHECK(std::vector<std::string>(k.begin() + 7, k.begin() + 14) ==
                  std::vector<std::string>{"samples", "p50_us", "p90_us", "p99_us", "min_us", "max_us", "mean_us"});
            CHECK(j["measuring_node"] == 1);
            CHECK(j.contains("rtt_p50_us"));
            CHECK(j.contains("rtt_page_p99_us"));
            CHECK(j.contains("uffd_fault_mean_us"));
            CHECK(j["p50_us"].get<double>() == doctest::Approx(2.35));
            CHECK(j["min_us"].get<double>() == doctest::Approx(1.0));
            CHECK(j["ratio_p50_vs_rtt_plus_uffd"].get<double>() == doctest::Approx(1.235));
            CHECK(j["home_read"].contains("p50_us"));
            CHECK(j["pair_ratio"].is_null());
            CHECK_FALSE(j.contains("fanout"));
            CHECK(k.back() == "stats");
        }
    }
    GIVEN("a fill run") {
        FillFigures f;
        f.region_bytes = 4096 * 4;
        f.worst_beyond_held_fraction = 0.1234567;
        f.nodes_memory.push_back(NodeMemory{1, 8192, 2, -123.6, 0.0000004, 1.23456});
        auto j = report_json(base_report(f));
        THEN("bytes are integers and fractions keep 6 decimals") {
            CHECK(j["region_bytes"].is_number_integer());
            CHECK(j["worst_beyond_held_fraction"].get<double>() == doctest::Approx(0.123457));
            const auto& n = j["nodes_memory"][0];
            CHECK(keys(n) == std::vector<std::string>{"node", "vm_rss_bytes", "held_pages", "beyond_held_bytes",
                                                      "beyond_held_fraction", "fill_s"});
            CHECK(n["beyond_held_bytes"] == -124);
            CHECK(n["fill_s"].get<double>() == doctest::Approx(1.235));
        }
    }
}
