// Benchmarks of the DSM fast paths (issue 8): where the data comes from
// (home vs a third-node owner), sequential walks (read-ahead) and
// concurrent faults of several threads. Same conventions as
// workload_bench.cpp: node 1 measures, cluster barriers separate the set-up
// (done by the writers) from the timed accesses.
#include <algorithm>
#include <atomic>
#include <numeric>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "vmm/dsm_node/workload_bench.hpp"

namespace spanvm::dsm_node::detail {

namespace {

Result<void> sync(DsmEngine& e, const WorkloadOptions& o) { return e.barrier(o.step_timeout); }

#define TRY_SYNC()                                         \
    do {                                                   \
        if (auto b_ = sync(e, o); !b_) return b_.error(); \
    } while (0)

void expect(BenchMeasured& m, bool ok, const std::string& what) {
    if (!ok && m.values_ok) {
        m.values_ok = false;
        m.bad = what;
    }
}

}  // namespace

// Page homed at node 0. Odd samples: node 0 (the home) writes it, node 1
// reads it (data at the home). Even samples: node 2 writes it, node 1 reads
// it (data at a third node). series[0] = home read, series[1] = far read.
Result<BenchMeasured> bench_far_read(DsmEngine& e, const WorkloadOptions& o, std::uint64_t off, std::size_t n) {
    BenchMeasured m;
    m.series.resize(2);
    auto w = atomic_at(e, off);
    for (std::size_t i = 1; i <= 2 * n; ++i) {
        const bool far = i % 2 == 0;
        const NodeId writer = far ? 2 : 0;
        if (e.self() == writer) w.store(i, std::memory_order_relaxed);
        TRY_SYNC();
        if (e.self() == 1) {
            std::uint64_t t0 = mono_ns();
            std::uint64_t v = w.load(std::memory_order_relaxed);
            m.series[far ? 1 : 0].push_back(mono_ns() - t0);
            expect(m, v == i, fmt::format("far-read {} saw {}", i, v));
        }
        TRY_SYNC();
    }
    return m;
}

// Node 0 writes pages [0, kWalkPages) and one isolated page; node 1 reads the
// isolated page (series[0]: one remote read), then walks the others in order
// (series[1]: walk time / kWalkPages, the cost per page).
Result<BenchMeasured> bench_seq_walk(DsmEngine& e, const WorkloadOptions& o, std::size_t n) {
    BenchMeasured m;
    m.series.resize(2);
    const std::uint64_t single = e.page_count() - 1;
    for (std::size_t i = 1; i <= n; ++i) {
        if (e.self() == 0) {
            atomic_at(e, single * 4096).store(i, std::memory_order_relaxed);
            for (std::uint64_t p = 0; p < kWalkPages; ++p) atomic_at(e, p * 4096).store(i + p, std::memory_order_relaxed);
        }
        TRY_SYNC();
        if (e.self() == 1) {
            std::uint64_t t0 = mono_ns();
            std::uint64_t v = atomic_at(e, single * 4096).load(std::memory_order_relaxed);
            std::uint64_t t1 = mono_ns();
            expect(m, v == i, fmt::format("seq-walk single {} saw {}", i, v));
            std::uint64_t bad = 0;
            for (std::uint64_t p = 0; p < kWalkPages; ++p)
                if (atomic_at(e, p * 4096).load(std::memory_order_relaxed) != i + p) ++bad;
            std::uint64_t t2 = mono_ns();
            m.series[0].push_back(t1 - t0);
            m.series[1].push_back((t2 - t1) / kWalkPages);
            expect(m, bad == 0, fmt::format("seq-walk {}: {} pages stale", i, bad));
        }
        TRY_SYNC();
    }
    return m;
}

// Node 0 writes pages [0, kWalkPages); node 1 reads all of them in a fixed
// random order (no sequential pattern), with 1 thread (series[0]) and then
// with 4 threads sharing the order (series[1]); a sample is wall time /
// kWalkPages, so series[0] p50 / series[1] p50 is the throughput ratio.
Result<BenchMeasured> bench_threads(DsmEngine& e, const WorkloadOptions& o, std::size_t n) {
    BenchMeasured m;
    m.series.resize(2);
    std::vector<std::uint64_t> order(kWalkPages);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), std::mt19937_64(o.seed));
    std::uint64_t round = 0;
    for (std::size_t i = 1; i <= n; ++i) {
        for (unsigned nthreads : {1u, 4u}) {
            ++round;
            if (e.self() == 0)
                for (std::uint64_t p = 0; p < kWalkPages; ++p)
                    atomic_at(e, p * 4096).store(round * kWalkPages + p, std::memory_order_relaxed);
            TRY_SYNC();
            if (e.self() == 1) {
                std::atomic<bool> go{false};
                std::atomic<std::uint64_t> bad{0};
                std::vector<std::thread> ts;
                for (unsigned t = 0; t < nthreads; ++t)
                    ts.emplace_back([&, t] {
                        while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
                        for (std::size_t k = t; k < order.size(); k += nthreads) {
                            std::uint64_t p = order[k];
                            if (atomic_at(e, p * 4096).load(std::memory_order_relaxed) != round * kWalkPages + p)
                                bad.fetch_add(1);
                        }
                    });
                std::uint64_t t0 = mono_ns();
                go.store(true, std::memory_order_release);
                for (auto& t : ts) t.join();
                m.series[nthreads == 1 ? 0 : 1].push_back((mono_ns() - t0) / kWalkPages);
                expect(m, bad.load() == 0, fmt::format("threads {} round {}: {} pages stale", nthreads, round, bad.load()));
            }
            TRY_SYNC();
        }
    }
    return m;
}

}  // namespace spanvm::dsm_node::detail
