#include "vmm/dsm_node/report.hpp"

#include <cmath>

#include "vmm/dsm/dsm_stats_report.hpp"

namespace spanvm::dsm_node {

namespace {

using Json = nlohmann::ordered_json;

Json rounded(double v, int decimals) {
    if (!std::isfinite(v)) return nullptr;
    const double scale = std::pow(10.0, decimals);
    return std::round(v * scale) / scale;
}

// "<prefix>samples", "<prefix>p50_us", ... into j, in the order readers know.
void put_summary(Json& j, const std::string& prefix, const SampleSummary& s) {
    j[prefix + "samples"] = s.count;
    j[prefix + "p50_us"] = rounded(s.p50_us, 2);
    j[prefix + "p90_us"] = rounded(s.p90_us, 2);
    j[prefix + "p99_us"] = rounded(s.p99_us, 2);
    j[prefix + "min_us"] = rounded(s.min_us, 2);
    j[prefix + "max_us"] = rounded(s.max_us, 2);
    j[prefix + "mean_us"] = rounded(s.mean_us, 2);
}

struct FiguresJson {
    Json& j;
    void operator()(const std::monostate&) const {}
    void operator()(const CounterFigures& f) const {
        j["total"] = f.total;
        j["expected_each"] = f.expected_each;
        j["counters"] = f.counters;
    }
    void operator()(const FillFigures& f) const {
        j["region_bytes"] = f.region_bytes;
        j["worst_beyond_held_fraction"] = rounded(f.worst_beyond_held_fraction, 6);
        Json nodes = Json::array();
        for (const auto& n : f.nodes_memory)
            nodes.push_back(Json{{"node", n.node},
                                 {"vm_rss_bytes", n.vm_rss_bytes},
                                 {"held_pages", n.held_pages},
                                 {"beyond_held_bytes", std::llround(n.beyond_held_bytes)},
                                 {"beyond_held_fraction", rounded(n.beyond_held_fraction, 6)},
                                 {"fill_s", rounded(n.fill_s, 3)}});
        j["nodes_memory"] = std::move(nodes);
    }
    void operator()(const StressFigures& f) const {
        j["bad_reads"] = f.bad_reads;
        j["bad_pages"] = f.bad_pages;
        j["ops"] = f.ops;
    }
    void operator()(const LitmusSbFigures& f) const {
        j["iterations"] = f.iterations;
        j["r00"] = f.counts[0];
        j["r01"] = f.counts[1];
        j["r10"] = f.counts[2];
        j["r11"] = f.counts[3];
    }
    void operator()(const LitmusMpFigures& f) const {
        j["iterations"] = f.iterations;
        j["data_seen"] = f.data_seen;
        j["stale"] = f.stale;
    }
    void operator()(const BenchFigures& f) const {
        put_summary(j, "", f.main);
        j["measuring_node"] = f.measuring_node;
        put_summary(j, "rtt_", f.rtt);
        put_summary(j, "rtt_page_", f.rtt_page);
        put_summary(j, "uffd_fault_", f.uffd_fault);
        j["ratio_p50_vs_rtt_plus_uffd"] = rounded(f.ratio_p50_vs_rtt_plus_uffd, 3);
        if (!f.fanout.empty()) {
            Json fan = Json::array();
            for (std::size_t k = 0; k < f.fanout.size(); ++k) {
                Json e{{"sharers", k + 1}};
                put_summary(e, "", f.fanout[k]);
                fan.push_back(std::move(e));
            }
            j["fanout"] = std::move(fan);
        }
        if (f.pair) {
            Json base = Json::object();
            put_summary(base, "", f.pair->base);
            j[f.pair->name] = std::move(base);
            j["pair_ratio"] = rounded(f.pair->ratio, 3);
        }
    }
};

}  // namespace

nlohmann::ordered_json report_json(const NodeReport& r) {
    Json j{{"workload", r.workload}, {"node", r.node},       {"nodes", r.nodes}, {"pages", r.pages},
           {"home", r.home},         {"hold_us", r.hold_us}, {"ok", r.ok}};
    std::visit(FiguresJson{j}, r.figures);
    j["stats"] = dsm::stats_json(r.stats);
    return j;
}

}  // namespace spanvm::dsm_node
