#pragma once
// The one place the `spanvm dsm-node --json` file is built. Keys and their
// order are a contract with bench/dsm/*.sh and scripts reading the files:
//   workload, node, nodes, pages, home, hold_us, ok,
//   <the workload's figures, flat>, stats (vmm/dsm/dsm_stats_report.hpp).
// Figures measured in microseconds are rounded to 2 decimals, ratios to 3,
// fractions to 6, seconds to 3 (what the text format printed before).
// Non-finite numbers (a ratio over a zero p50) become null. Pure, no I/O.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "vmm/dsm/dsm_stats.hpp"
#include "vmm/dsm_node/workload_figures.hpp"

namespace spanvm::dsm_node {

struct NodeReport {
    std::string workload;
    std::uint32_t node = 0;
    std::uint32_t nodes = 0;
    std::uint64_t pages = 0;
    std::string home;
    std::uint64_t hold_us = 0;
    bool ok = false;
    WorkloadFigures figures;
    dsm::DsmStats::Snapshot stats;
};

nlohmann::ordered_json report_json(const NodeReport& r);

}  // namespace spanvm::dsm_node
