#pragma once
// The one place a DsmStats::Snapshot is serialised (JSON, for --json files)
// and rendered as text (the --stats table). Pure: returns values, no I/O.
#include <string>

#include <nlohmann/json.hpp>

#include "vmm/dsm/dsm_stats.hpp"

namespace spanvm::dsm {

// Keys in a fixed order (ordered_json), as readers have always seen them:
// node, label, page_count, counters{...}, fault_latency_ns{read_fault, write_fault,
// all: {count, min, p50, p90, p99, max, mean}}, hot_pages[{page, read_faults,
// write_faults, invalidations, bytes_sent, last_writer (null if none)}].
nlohmann::ordered_json stats_json(const DsmStats::Snapshot& s);
// stats_json(s) as compact text; a label that is not valid UTF-8 gets U+FFFD.
std::string stats_json_text(const DsmStats::Snapshot& s);
// "DSM statistics for node N (label)" and the counter, latency (us) and
// hot-page tables, one line each, every line ending in '\n'.
std::string stats_table(const DsmStats::Snapshot& s);

}  // namespace spanvm::dsm
