// Latency benchmarks. One node measures (timestamps around a single access
// in the workload thread, so a sample is the full fault cost the program
// sees); the others set the page up between samples, synchronised by cluster
// barriers. At the end the measuring node also measures, in the same run,
// the transport RTT to a peer (net/rtt_probe) and the cost of a purely local
// userfaultfd fault, and reports everything to node 0.
#include <algorithm>

#include <fmt/format.h>

#include "net/rtt_probe.hpp"
#include "vmm/base/latency_trace.hpp"
#include "vmm/base/log.hpp"
#include "vmm/dsm_node/workload_model.hpp"
#include "vmm/dsm_node/workload_bench.hpp"

namespace spanvm::dsm_node::detail {

namespace {

constexpr std::uint32_t kBenchTag = 0x4245;
constexpr std::size_t kMaxSamples = 1500;  // keeps a report under the frame limit

// A private UffdRegion whose handler thread installs zero pages: the local
// fault round trip (kernel -> handler thread -> UFFDIO_COPY -> wake).
Result<std::vector<std::uint64_t>> local_uffd_fault_samples(std::size_t n) {
    auto region = UffdRegion::create(n);
    if (!region) return region.error();
    UffdRegion& r = **region;
    std::atomic<bool> stop{false};
    std::string err;
    std::thread handler([&] {
        while (!stop.load()) {
            auto f = r.read_fault(50);
            if (!f) {
                err = f.error().message;
                return;
            }
            if (*f)
                if (auto ok = r.install((*f)->page, nullptr, false); !ok) {
                    err = ok.error().message;
                    return;
                }
        }
    });
    std::vector<std::uint64_t> samples;
    samples.reserve(n);
    for (std::size_t i = 0; i < n && err.empty(); ++i) {
        auto* p = reinterpret_cast<volatile std::uint64_t*>(r.base() + i * UffdRegion::kPageSize);
        std::uint64_t t0 = mono_ns();
        (void)*p;
        samples.push_back(mono_ns() - t0);
    }
    stop = true;
    handler.join();
    if (!err.empty()) return make_error(EIO, "local uffd fault probe: {}", err);
    return samples;
}

std::vector<std::uint64_t> to_ns(const std::vector<std::chrono::nanoseconds>& v) {
    std::vector<std::uint64_t> out;
    for (auto d : v) out.push_back(static_cast<std::uint64_t>(d.count()));
    return out;
}

using Measured = BenchMeasured;  // series: per configuration (fan-out: per sharer count)

Result<void> sync(DsmEngine& e, const WorkloadOptions& o) { return e.barrier(o.step_timeout); }

#define TRY_SYNC()                                          \
    do {                                                    \
        if (auto b_ = sync(e, o); !b_) return b_.error();  \
    } while (0)

// Node 0 writes the page (taking it Modified), node 1 read-faults it.
Result<Measured> remote_read(DsmEngine& e, const WorkloadOptions& o, std::uint64_t off, std::size_t n) {
    Measured m;
    m.series.resize(1);
    auto w = atomic_at(e, off);
    for (std::size_t i = 1; i <= n; ++i) {
        if (e.self() == 0) w.store(i, std::memory_order_relaxed);
        TRY_SYNC();
        if (e.self() == 1) {
            trace::mark("bench.load.begin", i);
            std::uint64_t t0 = mono_ns();
            std::uint64_t v = w.load(std::memory_order_relaxed);
            m.series[0].push_back(mono_ns() - t0);
            trace::mark("bench.load.end", i);
            if (v != i && m.values_ok) {
                m.values_ok = false;
                m.bad = fmt::format("remote read {} saw {}", i, v);
            }
        }
        TRY_SYNC();
    }
    return m;
}

// Node 0 writes, node 1 reads (Shared), then node 1 writes: the timed upgrade.
Result<Measured> write_upgrade(DsmEngine& e, const WorkloadOptions& o, std::uint64_t off, std::size_t n) {
    Measured m;
    m.series.resize(1);
    auto w = atomic_at(e, off);
    for (std::size_t i = 1; i <= n; ++i) {
        if (e.self() == 0) w.store(2 * i, std::memory_order_relaxed);
        TRY_SYNC();
        if (e.self() == 1) {
            std::uint64_t v = w.load(std::memory_order_relaxed);
            if (e.local_state(off / 4096) != LocalState::Shared && m.values_ok) {
                m.values_ok = false;
                m.bad = "write-upgrade: page not Shared before the write";
            }
            std::uint64_t t0 = mono_ns();
            w.store(v + 1, std::memory_order_relaxed);
            m.series[0].push_back(mono_ns() - t0);
            if (v != 2 * i && m.values_ok) {
                m.values_ok = false;
                m.bad = fmt::format("write-upgrade {} read {}", i, v);
            }
        }
        TRY_SYNC();
    }
    return m;
}

// For k = 1..nodes-1: nodes 0..k-1 read the page, then node nodes-1 writes.
Result<Measured> invalidate_fanout(DsmEngine& e, const WorkloadOptions& o, std::uint64_t off, std::size_t n) {
    Measured m;
    const NodeId writer = e.num_nodes() - 1;
    auto w = atomic_at(e, off);
    for (NodeId k = 1; k < e.num_nodes(); ++k) {
        m.series.emplace_back();
        for (std::size_t i = 1; i <= n; ++i) {
            if (e.self() < k) (void)w.load(std::memory_order_relaxed);
            TRY_SYNC();
            if (e.self() == writer) {
                std::uint64_t t0 = mono_ns();
                w.store(i, std::memory_order_relaxed);
                m.series.back().push_back(mono_ns() - t0);
            }
            TRY_SYNC();
        }
    }
    return m;
}

// Nodes 0 and 1 hand a counter back and forth; node 0 times each exchange.
Result<Measured> ping_pong(DsmEngine& e, const WorkloadOptions& o, std::uint64_t off, std::size_t n) {
    Measured m;
    m.series.resize(1);
    auto w = atomic_at(e, off);
    TRY_SYNC();
    for (std::uint64_t i = 0; i < n; ++i) {
        if (e.self() == 0) {
            trace::mark("bench.exchange.begin", i);
            std::uint64_t t0 = mono_ns();
            w.store(2 * i + 1, std::memory_order_relaxed);
            spin_until([&] { return w.load(std::memory_order_relaxed) == 2 * i + 2; });
            m.series[0].push_back(mono_ns() - t0);
            trace::mark("bench.exchange.end", i);
        } else if (e.self() == 1) {
            spin_until([&] { return w.load(std::memory_order_relaxed) == 2 * i + 1; });
            w.store(2 * i + 2, std::memory_order_relaxed);
        }
    }
    TRY_SYNC();
    return m;
}

}  // namespace

Result<WorkloadOutcome> run_bench(DsmEngine& e, const WorkloadOptions& o) {
    const std::size_t n = std::min<std::uint64_t>(o.iterations, kMaxSamples);
    // The page is homed at node 0 (first page homed there).
    const std::uint64_t off = page_homed_at(e, 0, 0) * 4096;
    // Walks touch kWalkPages pages per sample: fewer samples.
    const std::size_t walk_n = std::clamp<std::size_t>(n / 20, 10, 100);
    NodeId measurer = 1, peer = 0;
    Result<Measured> m = Error{};
    TRY_SYNC();
    switch (o.kind) {
        case WorkloadKind::bench_remote_read: m = remote_read(e, o, off, n); break;
        case WorkloadKind::bench_write_upgrade: m = write_upgrade(e, o, off, n); break;
        case WorkloadKind::bench_invalidate:
            measurer = e.num_nodes() - 1;
            m = invalidate_fanout(e, o, off, n);
            break;
        case WorkloadKind::bench_far_read: m = bench_far_read(e, o, off, n); break;
        case WorkloadKind::bench_seq_walk: m = bench_seq_walk(e, o, walk_n); break;
        case WorkloadKind::bench_threads: m = bench_threads(e, o, walk_n); break;
        default:
            measurer = 0;
            peer = 1;
            m = ping_pong(e, o, off, n);
            break;
    }
    if (!m) return m.error();
    // Reference costs measured in this run, while the others wait.
    if (e.self() == measurer) {
        net::RttProbeOptions ro;
        ro.samples = 300;
        ro.warmup = 30;
        auto rtt = net::measure_rtt(e.transport(), static_cast<net::NodeId>(peer), ro);
        if (!rtt) return rtt.error();
        ro.reply_size = 4096;
        auto rtt_page = net::measure_rtt(e.transport(), static_cast<net::NodeId>(peer), ro);
        if (!rtt_page) return rtt_page.error();
        auto uffd = local_uffd_fault_samples(300);
        if (!uffd) return uffd.error();
        net::WireWriter w;
        w.u8(m->values_ok ? 1 : 0).string(m->bad);
        w.u32(static_cast<std::uint32_t>(m->series.size()));
        for (auto& s : m->series) put_series(w, s);
        put_series(w, to_ns(*rtt));
        put_series(w, to_ns(*rtt_page));
        put_series(w, *uffd);
        if (auto r = e.report(kBenchTag, w.view()); !r) return r.error();
    }
    TRY_SYNC();
    WorkloadOutcome out;
    if (e.self() != 0) return out;
    auto reps = e.gather(kBenchTag, 1, o.step_timeout);
    if (!reps) return reps.error();
    net::WireReader r((*reps)[0].data);
    auto ok = r.u8();
    auto bad = r.string();
    auto nseries = r.u32();
    if (!ok || !bad || !nseries || *nseries > 64) return make_error(EPROTO, "bench: bad report");
    std::vector<std::vector<std::uint64_t>> series;
    for (std::uint32_t i = 0; i < *nseries + 3; ++i) {
        auto s = get_series(r);
        if (!s) return make_error(EPROTO, "bench: bad report: {}", s.error().message);
        series.push_back(std::move(*s));
    }
    SampleSummary uffd = summarize_samples(series.back());
    series.pop_back();
    SampleSummary rtt_page = summarize_samples(series.back());
    series.pop_back();
    SampleSummary rtt = summarize_samples(series.back());
    series.pop_back();
    SampleSummary main = summarize_samples(series.back());
    const double base = rtt.p50_us + uffd.p50_us;
    const double ratio = base > 0 ? main.p50_us / base : 0;
    out.ok = *ok != 0;
    std::string name(to_string(o.kind));
    BenchFigures fig;
    fig.main = main;
    fig.measuring_node = measurer;
    fig.rtt = rtt;
    fig.rtt_page = rtt_page;
    fig.uffd_fault = uffd;
    fig.ratio_p50_vs_rtt_plus_uffd = ratio;
    std::string fan;
    if (o.kind == WorkloadKind::bench_invalidate) {
        for (std::size_t k = 0; k < series.size(); ++k) {
            SampleSummary s = summarize_samples(series[k]);
            fig.fanout.push_back(s);
            fan += fmt::format(" sharers{}_p50_us={:.1f}", k + 1, s.p50_us);
        }
    }
    // The paired figure of the fast-path cases (series[0] vs the main one).
    if (series.size() == 2 && o.kind != WorkloadKind::bench_invalidate) {
        SampleSummary base_s = summarize_samples(series[0]);
        const char* name0 = o.kind == WorkloadKind::bench_far_read  ? "home_read"
                            : o.kind == WorkloadKind::bench_seq_walk ? "single_read"
                                                                      : "one_thread_per_page";
        // far-read: far / home p50; seq-walk: per-page / single p50;
        // threads: 1-thread / 4-thread time per page = throughput ratio.
        double pair = o.kind == WorkloadKind::bench_threads ? base_s.p50_us / main.p50_us : main.p50_us / base_s.p50_us;
        fig.pair = BenchFigures::Pair{name0, base_s, pair};
        fan += fmt::format(" {}_p50_us={:.1f} pair_ratio={:.2f}", name0, base_s.p50_us, pair);
    }
    out.figures = std::move(fig);
    if (!out.ok) {
        out.check_line = fmt::format("CHECK FAILED {}: {}", name, *bad);
        return out;
    }
    out.check_line = fmt::format(
        "CHECK ok {} samples={} p50_us={:.1f} p99_us={:.1f}{} rtt_p50_us={:.1f} rtt_page_p50_us={:.1f} "
        "uffd_fault_p50_us={:.1f} ratio={:.2f}",
        name, main.count, main.p50_us, main.p99_us, fan, rtt.p50_us, rtt_page.p50_us, uffd.p50_us, ratio);
    return out;
}

}  // namespace spanvm::dsm_node::detail
