#include "vmm/dsm/dsm_stats_report.hpp"

#include <fmt/format.h>

namespace spanvm::dsm {

namespace {

using Json = nlohmann::ordered_json;

Json latency_json(const DsmStats::LatencySummary& l) {
    return Json{{"count", l.count}, {"min", l.min_ns}, {"p50", l.p50_ns}, {"p90", l.p90_ns},
                {"p99", l.p99_ns},  {"max", l.max_ns}, {"mean", l.mean_ns}};
}

std::string fmt_us(std::uint64_t ns) { return fmt::format("{:.1f}", static_cast<double>(ns) / 1000.0); }

}  // namespace

nlohmann::ordered_json stats_json(const DsmStats::Snapshot& s) {
    Json counters = Json::object();
    for (std::size_t i = 0; i < DsmStats::kCounterCount; ++i)
        counters[std::string(DsmStats::counter_name(static_cast<DsmStats::Counter>(i)))] = s.counters[i];
    Json latencies = Json::object();
    for (std::size_t k = 0; k < DsmStats::kLatencyCount; ++k)
        latencies[std::string(DsmStats::latency_name(static_cast<DsmStats::Latency>(k)))] = latency_json(s.latency[k]);
    latencies["all"] = latency_json(s.latency_all);
    Json hot = Json::array();
    for (const auto& r : s.hot_pages) {
        hot.push_back(Json{{"page", r.page},
                           {"read_faults", r.read_faults},
                           {"write_faults", r.write_faults},
                           {"invalidations", r.invalidations},
                           {"bytes_sent", r.bytes_sent},
                           {"last_writer", r.last_writer == DsmStats::kNoNode ? Json(nullptr) : Json(r.last_writer)}});
    }
    return Json{{"node", s.node},
                {"label", s.label},
                {"page_count", s.page_count},
                {"counters", std::move(counters)},
                {"fault_latency_ns", std::move(latencies)},
                {"hot_pages", std::move(hot)}};
}

std::string stats_json_text(const DsmStats::Snapshot& s) {
    return stats_json(s).dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string stats_table(const DsmStats::Snapshot& s) {
    std::string t = fmt::format("DSM statistics for node {} ({})\n", s.node, s.label);
    for (std::size_t i = 0; i < DsmStats::kCounterCount; ++i)
        t += fmt::format("  {:<24}{:>14}\n", DsmStats::counter_name(static_cast<DsmStats::Counter>(i)), s.counters[i]);
    t += fmt::format("  {:<14}{:>9}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}\n", "latency (us)", "count", "min", "p50", "p90",
                     "p99", "max", "mean");
    auto row = [&](std::string_view name, const DsmStats::LatencySummary& l) {
        t += fmt::format("  {:<14}{:>9}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}\n", name, l.count, fmt_us(l.min_ns),
                         fmt_us(l.p50_ns), fmt_us(l.p90_ns), fmt_us(l.p99_ns), fmt_us(l.max_ns), fmt_us(l.mean_ns));
    };
    for (std::size_t k = 0; k < DsmStats::kLatencyCount; ++k)
        row(DsmStats::latency_name(static_cast<DsmStats::Latency>(k)), s.latency[k]);
    row("all", s.latency_all);
    t += fmt::format("  hot pages (top {} of those touched)\n", s.top_k);
    t += fmt::format("  {:>12}{:>10}{:>10}{:>10}{:>14}{:>12}\n", "page", "reads", "writes", "invals", "bytes_sent",
                     "last_writer");
    for (const auto& r : s.hot_pages) {
        std::string w = r.last_writer == DsmStats::kNoNode ? std::string("-") : fmt::format("{}", r.last_writer);
        t += fmt::format("  {:>12}{:>10}{:>10}{:>10}{:>14}{:>12}\n", r.page, r.read_faults, r.write_faults,
                         r.invalidations, r.bytes_sent, w);
    }
    if (s.hot_pages.empty()) t += "  (none)\n";
    return t;
}

}  // namespace spanvm::dsm
