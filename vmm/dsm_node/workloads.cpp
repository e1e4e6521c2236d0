#include "vmm/dsm_node/workloads.hpp"

#include <array>
#include <fstream>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "vmm/dsm_node/workload_model.hpp"
#include "vmm/dsm_node/workload_util.hpp"

namespace spanvm::dsm_node {

namespace {

struct Named {
    WorkloadKind kind;
    std::string_view name;
};
constexpr std::array<Named, 12> kNames{{
    {WorkloadKind::counter, "counter"},
    {WorkloadKind::litmus_sb, "litmus-sb"},
    {WorkloadKind::litmus_mp, "litmus-mp"},
    {WorkloadKind::stress, "stress"},
    {WorkloadKind::bench_remote_read, "bench-remote-read"},
    {WorkloadKind::bench_write_upgrade, "bench-write-upgrade"},
    {WorkloadKind::bench_invalidate, "bench-invalidate"},
    {WorkloadKind::bench_ping_pong, "bench-ping-pong"},
    {WorkloadKind::bench_far_read, "bench-far-read"},
    {WorkloadKind::bench_seq_walk, "bench-seq-walk"},
    {WorkloadKind::bench_threads, "bench-threads"},
    {WorkloadKind::fill, "fill"},
}};

constexpr std::uint64_t kCounters = 8;

// counter: every thread of every node adds 1 to each counter `iterations`
// times with lock xadd; each counter must end at nodes * threads * iterations.
Result<WorkloadOutcome> run_counter(DsmEngine& e, const WorkloadOptions& o) {
    const std::uint64_t counters = std::min(kCounters, max_counters(e.page_count()));
    const std::uint64_t pages = e.page_count();
    if (auto b = e.barrier(o.step_timeout); !b) return b.error();
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < o.threads; ++t)
        threads.emplace_back([&, t] {
            for (std::uint64_t k = 0; k < o.iterations; ++k)
                for (std::uint64_t c = 0; c < counters; ++c)
                    detail::atomic_at(e, counter_offset((c + t) % counters, pages))
                        .fetch_add(1, std::memory_order_seq_cst);
        });
    for (auto& th : threads) th.join();
    if (auto b = e.barrier(o.step_timeout); !b) return b.error();
    WorkloadOutcome out;
    if (e.self() != 0) return out;
    const std::uint64_t expected = std::uint64_t{e.num_nodes()} * o.threads * o.iterations;
    std::uint64_t total = 0;
    for (std::uint64_t c = 0; c < counters; ++c) {
        std::uint64_t v = detail::atomic_at(e, counter_offset(c, pages)).load();
        total += v;
        if (v != expected && out.ok) {
            out.ok = false;
            out.check_line = fmt::format("CHECK FAILED counter: counter {} (page {}) = {}, expected {}", c,
                                         counter_offset(c, pages) / 4096, v, expected);
        }
    }
    if (out.ok)
        out.check_line = fmt::format("CHECK ok counter total={} counters={} each={} nodes={} threads={} iterations={}",
                                     total, counters, expected, e.num_nodes(), o.threads, o.iterations);
    out.figures = CounterFigures{total, expected, counters};
    return out;
}

constexpr std::uint32_t kFillTag = 0x4649;

// Resident set size of this process in bytes (VmRSS in /proc/self/status).
std::uint64_t vm_rss_bytes() {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;  // "VmRSS:   123 kB"
    return 0;
}

// fill: the last node's threads write one word of every page (so it ends
// owning the whole region); then every node reports VmRSS and the pages it
// holds (mapped in its region), and node 0 prints the overhead beyond the
// held pages as a fraction of the region (issue 8: <= 1%).
Result<WorkloadOutcome> run_fill(DsmEngine& e, const WorkloadOptions& o) {
    const std::uint64_t pages = e.page_count();
    const NodeId writer = e.num_nodes() - 1;
    if (auto b = e.barrier(o.step_timeout); !b) return b.error();
    std::uint64_t t0 = detail::mono_ns();
    if (e.self() == writer) {
        std::vector<std::thread> threads;
        for (unsigned t = 0; t < o.threads; ++t)
            threads.emplace_back([&, t] {
                for (std::uint64_t p = t; p < pages; p += o.threads)
                    detail::atomic_at(e, p * 4096).store(p + 1, std::memory_order_relaxed);
            });
        for (auto& th : threads) th.join();
    }
    std::uint64_t fill_ns = detail::mono_ns() - t0;
    // Filling a large region takes minutes (one remote fault per page).
    if (auto b = e.barrier(std::max<std::chrono::milliseconds>(o.step_timeout, std::chrono::minutes(20))); !b)
        return b.error();
    std::uint64_t held = 0;
    for (std::uint64_t p = 0; p < pages; ++p)
        if (e.region().presence(p) != UffdRegion::Presence::absent) ++held;
    net::WireWriter w;
    w.u64(vm_rss_bytes()).u64(held).u64(fill_ns);
    if (auto r = e.report(kFillTag, w.view()); !r) return r.error();
    if (auto b = e.barrier(o.step_timeout); !b) return b.error();
    WorkloadOutcome out;
    if (e.self() != 0) return out;
    auto reports = e.gather(kFillTag, e.num_nodes(), o.step_timeout);
    if (!reports) return reports.error();
    const double region = static_cast<double>(pages) * 4096;
    std::string line;
    FillFigures fig;
    fig.region_bytes = pages * 4096;
    double worst = 0;
    for (auto& rep : *reports) {
        net::WireReader r(rep.data);
        auto rss = r.u64();
        auto h = r.u64();
        auto ns = r.u64();
        if (!rss || !h || !ns) return make_error(EPROTO, "fill: bad report from node {}", rep.from);
        double beyond = static_cast<double>(*rss) - static_cast<double>(*h) * 4096;
        double frac = beyond / region;
        worst = std::max(worst, frac);
        line += fmt::format(" node{}: rss_mib={:.1f} held_pages={} beyond_held_mib={:.1f} ({:.3f}% of region)",
                            rep.from, *rss / 1048576.0, *h, beyond / 1048576.0, 100 * frac);
        fig.nodes_memory.push_back(NodeMemory{rep.from, *rss, *h, beyond, frac, static_cast<double>(*ns) / 1e9});
        if (rep.from == writer && *h != pages && out.ok) {
            out.ok = false;
            out.check_line = fmt::format("CHECK FAILED fill: writer holds {} of {} pages", *h, pages);
        }
    }
    for (std::uint64_t p = 0; p < pages && out.ok; p += std::max<std::uint64_t>(1, pages / 64)) {
        std::uint64_t v = detail::atomic_at(e, p * 4096).load(std::memory_order_relaxed);
        if (v != p + 1) {
            out.ok = false;
            out.check_line = fmt::format("CHECK FAILED fill: page {} reads {}, wrote {}", p, v, p + 1);
        }
    }
    if (out.ok)
        out.check_line = fmt::format("CHECK ok fill pages={} region_mib={:.0f}{} worst_beyond_held={:.3f}%", pages,
                                     region / 1048576.0, line, 100 * worst);
    fig.worst_beyond_held_fraction = worst;
    out.figures = std::move(fig);
    return out;
}

constexpr std::uint32_t kStressTag = 0x5354;

// stress: falsely shared slots, deterministic per-owner sequences, read
// checks while running, page checksums against the replayed model at the end.
Result<WorkloadOutcome> run_stress(DsmEngine& e, const WorkloadOptions& o) {
    StressParams p;
    p.seed = o.seed;
    p.nodes = e.num_nodes();
    p.threads = o.threads;
    p.pages = e.page_count();
    p.iterations = o.iterations;
    if (p.slots_per_owner() == 0)
        return make_error(EINVAL, "stress: {} pages hold fewer slots than {} owners", p.pages, p.owners());
    if (auto b = e.barrier(o.step_timeout); !b) return b.error();
    std::atomic<std::uint64_t> errors{0};
    std::mutex first_mu;
    std::string first_error;
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < o.threads; ++t)
        threads.emplace_back([&, t] {
            StressOwner owner(p, std::uint64_t{e.self()} * o.threads + t);
            std::vector<std::uint64_t> mine(p.slots_per_owner(), 0);
            for (std::uint64_t i = 0; i < p.iterations; ++i) {
                StressOp op = owner.next();
                auto ref = detail::atomic_at(e, op.slot * 8);
                if (op.write) {
                    ref.store(op.value, std::memory_order_relaxed);
                    mine[op.own_index] = op.value;
                    continue;
                }
                std::uint64_t v = ref.load(std::memory_order_relaxed);
                std::string why;
                if (op.slot % p.owners() == owner.owner() && op.slot < p.slots_per_owner() * p.owners()) {
                    std::uint64_t want = mine[op.slot / p.owners()];
                    if (v != want)
                        why = fmt::format("owner {} reads back its slot {} = {:#x}, wrote {:#x}", owner.owner(),
                                          op.slot, v, want);
                } else {
                    why = stress_check_foreign(p, op.slot, v);
                }
                if (!why.empty()) {
                    errors.fetch_add(1);
                    std::lock_guard lk(first_mu);
                    if (first_error.empty()) first_error = fmt::format("node {}: {}", e.self(), why);
                }
            }
        });
    for (auto& th : threads) th.join();
    net::WireWriter w;
    w.u64(errors.load()).string(first_error);
    if (auto r = e.report(kStressTag, w.view()); !r) return r.error();
    if (auto b = e.barrier(o.step_timeout); !b) return b.error();
    WorkloadOutcome out;
    if (e.self() != 0) {
        if (errors.load() != 0) {
            out.ok = false;
            out.check_line = fmt::format("CHECK FAILED stress: {} bad reads, first: {}", errors.load(), first_error);
        }
        return out;
    }
    auto reports = e.gather(kStressTag, e.num_nodes(), o.step_timeout);
    if (!reports) return reports.error();
    std::uint64_t bad_reads = 0;
    std::string first;
    for (auto& rep : *reports) {
        net::WireReader r(rep.data);
        auto n = r.u64();
        auto s = r.string();
        if (!n || !s) return make_error(EPROTO, "stress: bad report from node {}", rep.from);
        bad_reads += *n;
        if (first.empty()) first = *s;
    }
    std::vector<std::uint64_t> want = stress_final_values(p);
    std::uint64_t bad_pages = 0, first_bad_page = 0;
    std::vector<std::uint64_t> words(kWordsPerPage);
    for (std::uint64_t page = 0; page < p.pages; ++page) {
        for (std::size_t i = 0; i < kWordsPerPage; ++i)
            words[i] = detail::atomic_at(e, (page * kWordsPerPage + i) * 8).load(std::memory_order_relaxed);
        if (page_checksum(words.data()) != page_checksum(want.data() + page * kWordsPerPage)) {
            if (bad_pages++ == 0) first_bad_page = page;
        }
    }
    out.ok = bad_reads == 0 && bad_pages == 0;
    if (out.ok)
        out.check_line = fmt::format("CHECK ok stress pages={} owners={} ops={} checksums=match bad_reads=0", p.pages,
                                     p.owners(), p.owners() * p.iterations);
    else if (bad_pages)
        out.check_line = fmt::format("CHECK FAILED stress: {} of {} page checksums differ (first page {}); {} bad reads",
                                     bad_pages, p.pages, first_bad_page, bad_reads);
    else
        out.check_line = fmt::format("CHECK FAILED stress: {} bad reads, first: {}", bad_reads, first);
    out.figures = StressFigures{bad_reads, bad_pages, p.owners() * p.iterations};
    return out;
}

}  // namespace

std::optional<WorkloadKind> parse_workload(std::string_view name) {
    for (const auto& n : kNames)
        if (n.name == name) return n.kind;
    return std::nullopt;
}

std::string_view to_string(WorkloadKind k) {
    for (const auto& n : kNames)
        if (n.kind == k) return n.name;
    return "?";
}

std::string workload_names() {
    std::string s;
    for (const auto& n : kNames) s += (s.empty() ? "" : "|") + std::string(n.name);
    return s;
}

bool is_bench(WorkloadKind k) {
    return k == WorkloadKind::bench_remote_read || k == WorkloadKind::bench_write_upgrade ||
           k == WorkloadKind::bench_invalidate || k == WorkloadKind::bench_ping_pong ||
           k == WorkloadKind::bench_far_read || k == WorkloadKind::bench_seq_walk || k == WorkloadKind::bench_threads;
}

std::uint64_t default_iterations(WorkloadKind k) {
    switch (k) {
        case WorkloadKind::counter: return 500;
        case WorkloadKind::litmus_sb:
        case WorkloadKind::litmus_mp: return 300;
        case WorkloadKind::stress: return 3000;
        default: return 300;
    }
}

std::uint64_t min_pages(WorkloadKind k, std::uint32_t nodes, std::uint64_t iterations) {
    switch (k) {
        case WorkloadKind::litmus_sb: return 2 * ((iterations + kWordsPerPage - 1) / kWordsPerPage);
        case WorkloadKind::litmus_mp: return 2;
        case WorkloadKind::stress: return (std::uint64_t{nodes} * 64 + kWordsPerPage - 1) / kWordsPerPage;
        // Every node's k-th homed page must exist whatever the home policy.
        case WorkloadKind::bench_seq_walk:
        case WorkloadKind::bench_threads: return std::uint64_t{nodes} * (kWalkPages + 1);
        default: return 1;
    }
}

std::uint32_t min_nodes(WorkloadKind k) {
    if (k == WorkloadKind::bench_far_read) return 3;
    return k == WorkloadKind::counter || k == WorkloadKind::stress || k == WorkloadKind::fill ? 1 : 2;
}

Result<WorkloadOutcome> run_workload(DsmEngine& engine, const WorkloadOptions& options) {
    WorkloadOptions o = options;
    if (o.iterations == 0) o.iterations = default_iterations(o.kind);
    if (engine.num_nodes() < min_nodes(o.kind))
        return make_error(EINVAL, "workload {} needs at least {} nodes", to_string(o.kind), min_nodes(o.kind));
    if (engine.page_count() < min_pages(o.kind, engine.num_nodes(), o.iterations))
        return make_error(EINVAL, "workload {} needs at least {} pages", to_string(o.kind),
                          min_pages(o.kind, engine.num_nodes(), o.iterations));
    switch (o.kind) {
        case WorkloadKind::counter: return run_counter(engine, o);
        case WorkloadKind::stress: return run_stress(engine, o);
        case WorkloadKind::fill: return run_fill(engine, o);
        case WorkloadKind::litmus_sb: return detail::run_litmus_sb(engine, o);
        case WorkloadKind::litmus_mp: return detail::run_litmus_mp(engine, o);
        default: return detail::run_bench(engine, o);
    }
}

}  // namespace spanvm::dsm_node
