#pragma once
// The figures a built-in workload reports on node 0: plain structs, one per
// workload family. vmm/dsm_node/report.hpp is the one place they become JSON.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "vmm/dsm_node/workload_model.hpp"

namespace spanvm::dsm_node {

struct CounterFigures {
    std::uint64_t total = 0;
    std::uint64_t expected_each = 0;
    std::uint64_t counters = 0;
};

struct NodeMemory {
    std::uint32_t node = 0;
    std::uint64_t vm_rss_bytes = 0;
    std::uint64_t held_pages = 0;
    double beyond_held_bytes = 0;     // VmRSS - held pages * 4096 (may be negative)
    double beyond_held_fraction = 0;  // of the region
    double fill_s = 0;                // the node's fill time (0 on non-writers)
};

struct FillFigures {
    std::uint64_t region_bytes = 0;
    double worst_beyond_held_fraction = 0;
    std::vector<NodeMemory> nodes_memory;
};

struct StressFigures {
    std::uint64_t bad_reads = 0;
    std::uint64_t bad_pages = 0;
    std::uint64_t ops = 0;
};

struct LitmusSbFigures {
    std::uint64_t iterations = 0;
    std::array<std::uint64_t, 4> counts{};  // SbTally::counts: r00, r01, r10, r11
};

struct LitmusMpFigures {
    std::uint64_t iterations = 0;
    std::uint64_t data_seen = 0;
    std::uint64_t stale = 0;
};

struct BenchFigures {
    SampleSummary main;              // the workload's own samples
    std::uint32_t measuring_node = 0;
    SampleSummary rtt;               // transport round trip, 64 bytes
    SampleSummary rtt_page;          // round trip with a 4 KiB reply
    SampleSummary uffd_fault;        // local userfaultfd fault
    double ratio_p50_vs_rtt_plus_uffd = 0;
    // bench-invalidate: fanout[k] is the write with k + 1 sharers.
    std::vector<SampleSummary> fanout;
    // far-read, seq-walk, threads: the paired configuration and its ratio.
    struct Pair {
        std::string name;  // home_read | single_read | one_thread_per_page
        SampleSummary base;
        double ratio = 0;
    };
    std::optional<Pair> pair;
};

// monostate: nothing to report (every node but 0).
using WorkloadFigures = std::variant<std::monostate, CounterFigures, FillFigures, StressFigures, LitmusSbFigures,
                                     LitmusMpFigures, BenchFigures>;

}  // namespace spanvm::dsm_node
