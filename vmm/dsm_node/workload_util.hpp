#pragma once
// Helpers shared by the workload implementations (workloads.cpp,
// workload_litmus.cpp, workload_bench.cpp). Not a public API.
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include "net/wire_reader.hpp"
#include "net/wire_writer.hpp"
#include "vmm/dsm/dsm_engine.hpp"
#include "vmm/dsm_node/workloads.hpp"

namespace spanvm::dsm_node {
using dsm::LocalState;
using dsm::UffdRegion;
}  // namespace spanvm::dsm_node

namespace spanvm::dsm_node::detail {

inline std::uint64_t& word_at(DsmEngine& e, std::uint64_t byte_offset) {
    return *reinterpret_cast<std::uint64_t*>(e.base() + byte_offset);
}
inline std::atomic_ref<std::uint64_t> atomic_at(DsmEngine& e, std::uint64_t byte_offset) {
    return std::atomic_ref<std::uint64_t>(word_at(e, byte_offset));
}

// The n-th page (0-based) whose home is `node`; pages.size() if none.
inline std::uint64_t page_homed_at(DsmEngine& e, NodeId node, std::uint64_t n) {
    for (std::uint64_t p = 0; p < e.page_count(); ++p)
        if (e.home_policy().home_of(p) == node && n-- == 0) return p;
    return e.page_count();
}

// Spin on shared memory without starving the DSM threads of CPU: the value
// only changes after the local copy is invalidated, which needs them.
template <typename Pred>
void spin_until(Pred pred) {
    for (unsigned i = 0; !pred(); ++i) {
        if (i < 64)
            __builtin_ia32_pause();
        else
            std::this_thread::yield();
    }
}

inline std::uint64_t mono_ns() {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                          std::chrono::steady_clock::now().time_since_epoch())
                                          .count());
}

inline void put_series(net::WireWriter& w, const std::vector<std::uint64_t>& v) {
    w.u32(static_cast<std::uint32_t>(v.size()));
    for (auto x : v) w.u64(x);
}
inline Result<std::vector<std::uint64_t>> get_series(net::WireReader& r) {
    auto n = r.u32();
    if (!n) return n.error();
    if (*n > r.remaining() / 8) return make_error(EPROTO, "series of {} values in {} bytes", *n, r.remaining());
    std::vector<std::uint64_t> v(*n);
    for (auto& x : v) {
        auto y = r.u64();
        if (!y) return y.error();
        x = *y;
    }
    return v;
}

Result<WorkloadOutcome> run_litmus_sb(DsmEngine& e, const WorkloadOptions& o);
Result<WorkloadOutcome> run_litmus_mp(DsmEngine& e, const WorkloadOptions& o);
Result<WorkloadOutcome> run_bench(DsmEngine& e, const WorkloadOptions& o);

}  // namespace spanvm::dsm_node::detail
