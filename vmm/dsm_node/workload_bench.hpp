#pragma once
// Shared by the latency benchmarks (workload_bench.cpp,
// workload_bench_paths.cpp). Not a public API.
#include <cstdint>
#include <string>
#include <vector>

#include "vmm/dsm_node/workload_util.hpp"

namespace spanvm::dsm_node::detail {

struct BenchMeasured {
    std::vector<std::vector<std::uint64_t>> series;  // ns samples per configuration
    bool values_ok = true;
    std::string bad;
};

Result<BenchMeasured> bench_far_read(DsmEngine& e, const WorkloadOptions& o, std::uint64_t off, std::size_t n);
Result<BenchMeasured> bench_seq_walk(DsmEngine& e, const WorkloadOptions& o, std::size_t n);
Result<BenchMeasured> bench_threads(DsmEngine& e, const WorkloadOptions& o, std::size_t n);

}  // namespace spanvm::dsm_node::detail
