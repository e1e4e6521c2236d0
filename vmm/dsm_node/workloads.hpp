#pragma once
// Built-in workloads for `spanvm dsm-node` (library spanvm_dsm_node, on top
// of the engine in vmm/dsm, which never includes this folder). Their threads access the shared
// region directly (plain loads/stores, lock xadd, mfence through pointers
// into DsmEngine::base()): the page faults are what drive the DSM. Every node
// runs the same workload; node 0 gathers results over the control plane and
// decides the verdict.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "vmm/base/result.hpp"
#include "vmm/dsm/dsm_engine.hpp"
#include "vmm/dsm_node/workload_figures.hpp"

namespace spanvm::dsm_node {

using dsm::DsmEngine;
using dsm::NodeId;

enum class WorkloadKind {
    counter,
    litmus_sb,
    litmus_mp,
    stress,
    bench_remote_read,
    bench_write_upgrade,
    bench_invalidate,
    bench_ping_pong,
    bench_far_read,   // read from the home vs from a third node that owns the page
    bench_seq_walk,   // sequential walk of kWalkPages remote pages vs one remote read
    bench_threads,    // 4 threads faulting distinct remote pages vs 1 thread
    fill,             // the last node writes every page; every node reports RSS vs pages held
};

// Pages walked per sample by bench-seq-walk and faulted by bench-threads.
inline constexpr std::uint64_t kWalkPages = 256;

std::optional<WorkloadKind> parse_workload(std::string_view name);
std::string_view to_string(WorkloadKind k);
// "counter|litmus-sb|..." for usage lines.
std::string workload_names();
bool is_bench(WorkloadKind k);

struct WorkloadOptions {
    WorkloadKind kind = WorkloadKind::counter;
    unsigned threads = 2;          // per node (counter, stress)
    std::uint64_t iterations = 0;  // 0 = default_iterations(kind)
    std::uint64_t seed = 1;
    std::chrono::milliseconds step_timeout{60000};  // per barrier / gather
};

std::uint64_t default_iterations(WorkloadKind k);
// Pages the workload needs (checked before the engine starts).
std::uint64_t min_pages(WorkloadKind k, std::uint32_t nodes, std::uint64_t iterations);
// Nodes the workload needs.
std::uint32_t min_nodes(WorkloadKind k);

struct WorkloadOutcome {
    bool ok = true;
    // Node 0: "CHECK ok <workload> ..." or "CHECK FAILED <why>". Other nodes:
    // empty, or "CHECK FAILED <why>" for a violation they saw themselves.
    std::string check_line;
    // Node 0's figures for --json (vmm/dsm_node/report.hpp); none elsewhere.
    WorkloadFigures figures;
};

// Runs the workload on this node. Errors are for infrastructure failures
// (barrier timeout ...); a failed check is ok == false.
Result<WorkloadOutcome> run_workload(DsmEngine& engine, const WorkloadOptions& options);

}  // namespace spanvm::dsm_node
