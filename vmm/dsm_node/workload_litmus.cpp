// Litmus tests across nodes. Every iteration starts from a cluster barrier so
// the two sides race; memory accesses are plain x86 loads/stores (relaxed
// atomics compile to mov) with an explicit mfence where the test has one.
#include <fmt/format.h>

#include <algorithm>

#include "vmm/dsm_node/workload_model.hpp"
#include "vmm/dsm_node/workload_util.hpp"

namespace spanvm::dsm_node::detail {

namespace {
constexpr std::uint32_t kSbTag = 0x5342;
constexpr std::uint32_t kMpTag = 0x4d50;
constexpr std::size_t kSbChunk = 4096;  // 8-byte outcomes per report: 32 KiB
}  // namespace

// Store buffering. Node 0: x=1; mfence; r0=y.  Node 1: y=1; mfence; r1=x.
// Iteration i uses fresh words x_i, y_i: x on page 2*(i/512), y on the next
// page, so under interleaving x and y have different homes.
Result<WorkloadOutcome> run_litmus_sb(DsmEngine& e, const WorkloadOptions& o) {
    std::vector<std::uint64_t> mine;
    const NodeId me = e.self();
    for (std::uint64_t i = 0; i < o.iterations; ++i) {
        std::uint64_t x = (2 * (i / kWordsPerPage)) * 4096 + (i % kWordsPerPage) * 8;
        std::uint64_t y = x + 4096;
        if (auto b = e.barrier(o.step_timeout); !b) return b.error();
        if (me == 0 || me == 1) {
            auto store = atomic_at(e, me == 0 ? x : y);
            auto load = atomic_at(e, me == 0 ? y : x);
            store.store(1, std::memory_order_relaxed);
            std::atomic_thread_fence(std::memory_order_seq_cst);  // mfence
            mine.push_back(load.load(std::memory_order_relaxed));
        }
    }
    // Node 1's outcomes go to node 0 in chunks that fit a frame (64 KiB);
    // per-pair FIFO delivery and gather()'s stable order keep them in order.
    const std::size_t chunks = (mine.size() + kSbChunk - 1) / kSbChunk;
    if (me == 1) {
        for (std::size_t c = 0; c < chunks; ++c) {
            auto first = mine.begin() + static_cast<std::ptrdiff_t>(c * kSbChunk);
            std::vector<std::uint64_t> part(first, first + static_cast<std::ptrdiff_t>(std::min(kSbChunk, mine.size() - c * kSbChunk)));
            net::WireWriter w;
            put_series(w, part);
            if (auto r = e.report(kSbTag, w.view()); !r) return r.error();
        }
    }
    WorkloadOutcome out;
    if (me != 0) return out;
    auto reps = e.gather(kSbTag, chunks, o.step_timeout);
    if (!reps) return reps.error();
    std::vector<std::uint64_t> theirs_all;
    for (auto& rep : *reps) {
        net::WireReader r(rep.data);
        auto part = get_series(r);
        if (!part) return make_error(EPROTO, "litmus-sb: bad report from node {}", rep.from);
        theirs_all.insert(theirs_all.end(), part->begin(), part->end());
    }
    const auto* theirs = &theirs_all;
    if (theirs->size() != mine.size())
        return make_error(EPROTO, "litmus-sb: node 1 reported {} outcomes, expected {}", theirs->size(), mine.size());
    SbTally tally;
    for (std::size_t i = 0; i < mine.size(); ++i) tally.add(mine[i], (*theirs)[i]);
    out.ok = tally.forbidden() == 0;
    out.check_line = out.ok ? fmt::format("CHECK ok litmus-sb iterations={} violations=0 {}", o.iterations, tally.to_string())
                            : fmt::format("CHECK FAILED litmus-sb: forbidden outcome r0=0,r1=0 seen {} times ({})",
                                          tally.forbidden(), tally.to_string());
    out.figures = LitmusSbFigures{o.iterations, tally.counts};
    return out;
}

// Message passing. Node 0: data=i; flag=i (program order, x86 keeps it).
// Node 1: spin until flag==i, then data must be i. flag lives on the first
// page homed at node 0, data on the first page homed at node 1.
Result<WorkloadOutcome> run_litmus_mp(DsmEngine& e, const WorkloadOptions& o) {
    const NodeId me = e.self();
    std::uint64_t flag_page = page_homed_at(e, 0, 0), data_page = page_homed_at(e, 1, 0);
    if (flag_page == data_page || data_page >= e.page_count()) {
        // Single-home policy: still keep them on different pages.
        flag_page = 0;
        data_page = 1;
    }
    auto flag = atomic_at(e, flag_page * 4096);
    auto data = atomic_at(e, data_page * 4096 + 8);
    std::uint64_t ok = 0, stale = 0, first_bad_iter = 0, first_bad_value = 0;
    for (std::uint64_t i = 1; i <= o.iterations; ++i) {
        if (auto b = e.barrier(o.step_timeout); !b) return b.error();
        if (me == 0) {
            data.store(i, std::memory_order_relaxed);
            flag.store(i, std::memory_order_release);  // plain mov; TSO keeps store order
        } else if (me == 1) {
            spin_until([&] { return flag.load(std::memory_order_acquire) == i; });
            std::uint64_t d = data.load(std::memory_order_relaxed);
            if (d == i) {
                ++ok;
            } else if (stale++ == 0) {
                first_bad_iter = i;
                first_bad_value = d;
            }
        }
    }
    if (me == 1) {
        net::WireWriter w;
        w.u64(ok).u64(stale).u64(first_bad_iter).u64(first_bad_value);
        if (auto r = e.report(kMpTag, w.view()); !r) return r.error();
    }
    WorkloadOutcome out;
    if (me != 0) {
        if (stale) {
            out.ok = false;
            out.check_line = fmt::format("CHECK FAILED litmus-mp: saw flag={} but data={}", first_bad_iter,
                                         first_bad_value);
        }
        return out;
    }
    auto reps = e.gather(kMpTag, 1, o.step_timeout);
    if (!reps) return reps.error();
    net::WireReader r((*reps)[0].data);
    auto a = r.u64(), b = r.u64(), c = r.u64(), d = r.u64();
    if (!a || !b || !c || !d) return make_error(EPROTO, "litmus-mp: bad report from node {}", (*reps)[0].from);
    out.ok = *b == 0 && *a == o.iterations;
    out.check_line =
        out.ok ? fmt::format("CHECK ok litmus-mp iterations={} violations=0 data_seen={} stale=0 flag_page={} data_page={}",
                             o.iterations, *a, flag_page, data_page)
               : fmt::format("CHECK FAILED litmus-mp: {} of {} iterations saw stale data (first: flag={} data={})", *b,
                             o.iterations, *c, *d);
    out.figures = LitmusMpFigures{o.iterations, *a, *b};
    return out;
}

}  // namespace spanvm::dsm_node::detail
