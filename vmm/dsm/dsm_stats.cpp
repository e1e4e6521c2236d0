#include "vmm/dsm/dsm_stats.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstdlib>
#include <limits>
#include <new>

#include "vmm/base/stats.hpp"

namespace spanvm::dsm {
namespace {

constexpr std::uint64_t kNoMin = std::numeric_limits<std::uint64_t>::max();

void atomic_min(std::atomic<std::uint64_t>& a, std::uint64_t v) {
    std::uint64_t cur = a.load(std::memory_order_relaxed);
    while (v < cur && !a.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
    }
}
void atomic_max(std::atomic<std::uint64_t>& a, std::uint64_t v) {
    std::uint64_t cur = a.load(std::memory_order_relaxed);
    while (v > cur && !a.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
    }
}

// Saturating add for the 32-bit per-page fault counters (a hot page must not
// wrap to "cold").
void add_sat(std::uint32_t& word) {
    std::atomic_ref<std::uint32_t> a(word);
    std::uint32_t cur = a.load(std::memory_order_relaxed);
    while (cur != std::numeric_limits<std::uint32_t>::max() &&
           !a.compare_exchange_weak(cur, cur + 1, std::memory_order_relaxed)) {
    }
}

// A relaxed atomic load of a cell's word (std::atomic_ref takes no const
// object before C++26; nothing is written).
template <typename T>
T load_relaxed(const T& word) {
    return std::atomic_ref<T>(const_cast<T&>(word)).load(std::memory_order_relaxed);
}

}  // namespace

std::string_view DsmStats::counter_name(Counter c) {
    switch (c) {
        case Counter::read_faults: return "read_faults";
        case Counter::write_faults: return "write_faults";
        case Counter::remote_fetches: return "remote_fetches";
        case Counter::upgrades: return "upgrades";
        case Counter::invalidations_sent: return "invalidations_sent";
        case Counter::invalidations_received: return "invalidations_received";
        case Counter::downgrades: return "downgrades";
        case Counter::bytes_sent: return "bytes_sent";
        case Counter::bytes_received: return "bytes_received";
        case Counter::zero_page_grants: return "zero_page_grants";
        case Counter::home_first_touch_faults: return "home_first_touch_faults";
        case Counter::zero_filled_ahead: return "zero_filled_ahead";
        case Counter::written_ahead: return "written_ahead";
        case Counter::remote_first_touches: return "remote_first_touches";
        case Counter::home_migrations: return "home_migrations";
        case Counter::pages_rehomed: return "pages_rehomed";
        case Counter::run_requests: return "run_requests";
        case Counter::run_pages: return "run_pages";
        case Counter::run_pages_refused: return "run_pages_refused";
        case Counter::run_frames_sent: return "run_frames_sent";
        case Counter::run_frame_messages: return "run_frame_messages";
        case Counter::run_frames_received: return "run_frames_received";
        case Counter::run_installs: return "run_installs";
        case Counter::run_installed_pages: return "run_installed_pages";
        case Counter::run_made_writable: return "run_made_writable";
        case Counter::claim_requests: return "claim_requests";
        case Counter::claims: return "claims";
        case Counter::pages_claimed: return "pages_claimed";
        case Counter::pages_filled: return "pages_filled";
        case Counter::shared_chunk_first_touches: return "shared_chunk_first_touches";
        case Counter::pages_reclaimed: return "pages_reclaimed";
        case Counter::pages_zeroed: return "pages_zeroed";
        case Counter::count_: break;
    }
    return "?";
}

std::string_view DsmStats::latency_name(Latency l) {
    switch (l) {
        case Latency::read_fault: return "read_fault";
        case Latency::write_fault: return "write_fault";
        case Latency::count_: break;
    }
    return "?";
}

std::size_t DsmStats::bucket_of(std::uint64_t v) {
    if (v < 16) return static_cast<std::size_t>(v);
    std::size_t e = 63 - static_cast<std::size_t>(std::countl_zero(v));  // >= 4
    std::size_t sub = static_cast<std::size_t>(v >> (e - kSubBits)) & 15;
    return 16 + (e - kSubBits) * 16 + sub;
}

std::uint64_t DsmStats::bucket_low(std::size_t b) {
    if (b < 16) return b;
    std::size_t e = (b - 16) / 16 + kSubBits;
    std::uint64_t sub = (b - 16) % 16;
    return (16 + sub) << (e - kSubBits);
}

std::uint64_t DsmStats::bucket_high(std::size_t b) {
    if (b < 16) return b;
    std::size_t e = (b - 16) / 16 + kSubBits;
    return bucket_low(b) + ((std::uint64_t{1} << (e - kSubBits)) - 1);
}

DsmStats::DsmStats(std::uint32_t node_id, std::string node_label, std::uint64_t page_count)
    : node_id_(node_id), node_label_(std::move(node_label)), page_count_(page_count),
      shards_raw_(std::calloc(1, sizeof(Shard) * kShards + alignof(Shard))),
      chunk_count_((page_count + kChunkPages - 1) / kChunkPages),
      chunks_(new std::atomic<Chunk*>[chunk_count_]) {
    if (!shards_raw_) throw std::bad_alloc();
    // An array of plain words (implicit-lifetime): calloc's zeroed storage,
    // 64-aligned within the block.
    const auto at = reinterpret_cast<std::uintptr_t>(shards_raw_.get());
    shards_ = reinterpret_cast<Shard*>((at + alignof(Shard) - 1) & ~(std::uintptr_t{alignof(Shard)} - 1));
    for (std::size_t i = 0; i < chunk_count_; ++i) chunks_[i].store(nullptr, std::memory_order_relaxed);
    for (std::size_t k = 0; k < kLatencyCount; ++k) {
        min_ns_[k].store(kNoMin, std::memory_order_relaxed);
        max_ns_[k].store(0, std::memory_order_relaxed);
    }
}

DsmStats::~DsmStats() {
    for (std::size_t i = 0; i < chunk_count_; ++i) std::free(chunks_[i].load());
}

DsmStats::Shard& DsmStats::my_shard() {
    static std::atomic<std::size_t> next{0};
    thread_local const std::size_t idx = next.fetch_add(1, std::memory_order_relaxed) % kShards;
    return shards_[idx];
}

DsmStats::PageCell* DsmStats::cell(std::uint64_t page) {
    if (page >= page_count_) return nullptr;
    auto& slot = chunks_[page / kChunkPages];
    Chunk* c = slot.load(std::memory_order_acquire);
    if (c == nullptr) {
        // Chunk is an array of plain integers (an implicit-lifetime type):
        // calloc's zeroed storage is a Chunk of zero cells.
        auto* fresh = static_cast<Chunk*>(std::calloc(1, sizeof(Chunk)));
        if (fresh == nullptr) return nullptr;  // statistics only: the fault goes uncounted
        if (slot.compare_exchange_strong(c, fresh, std::memory_order_acq_rel)) {
            c = fresh;
        } else {
            std::free(fresh);  // another thread won; c now holds its chunk
        }
    }
    return &c->cells[page % kChunkPages];
}

const DsmStats::PageCell* DsmStats::cell_if(std::uint64_t page) const {
    if (page >= page_count_) return nullptr;
    Chunk* c = chunks_[page / kChunkPages].load(std::memory_order_acquire);
    return c == nullptr ? nullptr : &c->cells[page % kChunkPages];
}

void DsmStats::add(Counter c, std::uint64_t n) {
    std::atomic_ref<std::uint64_t>(my_shard().counters[static_cast<std::size_t>(c)])
        .fetch_add(n, std::memory_order_relaxed);
}

void DsmStats::record_fault(std::uint64_t page, bool is_write) {
    add(is_write ? Counter::write_faults : Counter::read_faults);
    if (auto* p = cell(page)) add_sat(is_write ? p->write_faults : p->read_faults);
}

void DsmStats::record_fault_latency(Latency kind, std::uint64_t ns) {
    auto k = static_cast<std::size_t>(kind);
    Shard& s = my_shard();
    std::atomic_ref<std::uint64_t>(s.buckets[k][bucket_of(ns)]).fetch_add(1, std::memory_order_relaxed);
    std::atomic_ref<std::uint64_t>(s.sum_ns[k]).fetch_add(ns, std::memory_order_relaxed);
    atomic_min(min_ns_[k], ns);
    atomic_max(max_ns_[k], ns);
}

void DsmStats::record_remote_fetch(std::uint64_t /*page*/, std::uint64_t bytes) {
    add(Counter::remote_fetches);
    add(Counter::bytes_received, bytes);
}

void DsmStats::record_upgrade(std::uint64_t /*page*/) { add(Counter::upgrades); }

void DsmStats::record_invalidation_sent(std::uint64_t page) {
    add(Counter::invalidations_sent);
    if (auto* p = cell(page)) add_sat(p->invalidations);
}

void DsmStats::record_invalidation_received(std::uint64_t page) {
    add(Counter::invalidations_received);
    if (auto* p = cell(page)) add_sat(p->invalidations);
}

void DsmStats::record_downgrade(std::uint64_t /*page*/) { add(Counter::downgrades); }

void DsmStats::record_page_sent(std::uint64_t page, std::uint64_t bytes) {
    add(Counter::bytes_sent, bytes);
    if (auto* p = cell(page))
        std::atomic_ref<std::uint64_t>(p->bytes_sent).fetch_add(bytes, std::memory_order_relaxed);
}

void DsmStats::record_zero_page_grant(std::uint64_t /*page*/) { add(Counter::zero_page_grants); }

void DsmStats::record_writer(std::uint64_t page, std::uint32_t node) {
    if (auto* p = cell(page))
        std::atomic_ref<std::uint32_t>(p->last_writer_plus1).store(node + 1, std::memory_order_relaxed);
}

std::uint64_t DsmStats::get(Counter c) const {
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < kShards; ++i)
        sum += load_relaxed(shards_[i].counters[static_cast<std::size_t>(c)]);
    return sum;
}

DsmStats::LatencySummary DsmStats::summarize(const std::vector<std::uint64_t>& buckets,
                                             std::uint64_t sum, std::uint64_t min,
                                             std::uint64_t max) const {
    LatencySummary s;
    for (auto n : buckets) s.count += n;
    if (s.count == 0) return s;
    s.min_ns = min;
    s.max_ns = max;
    s.mean_ns = sum / s.count;
    auto pct = [&](double q) -> std::uint64_t {
        const std::uint64_t rank = stats::nearest_rank(q, s.count);
        std::uint64_t seen = 0;
        for (std::size_t b = 0; b < buckets.size(); ++b) {
            seen += buckets[b];
            if (seen >= rank) {
                std::uint64_t lo = bucket_low(b), hi = bucket_high(b);
                return std::clamp(lo + (hi - lo) / 2, min, max);
            }
        }
        return max;
    };
    s.p50_ns = pct(0.50);
    s.p90_ns = pct(0.90);
    s.p99_ns = pct(0.99);
    return s;
}

DsmStats::LatencySummary DsmStats::latency(Latency kind) const {
    auto k = static_cast<std::size_t>(kind);
    std::vector<std::uint64_t> b(kBuckets, 0);
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < kShards; ++i) {
        for (std::size_t j = 0; j < kBuckets; ++j) b[j] += load_relaxed(shards_[i].buckets[k][j]);
        sum += load_relaxed(shards_[i].sum_ns[k]);
    }
    return summarize(b, sum, min_ns_[k].load(), max_ns_[k].load());
}

DsmStats::LatencySummary DsmStats::latency_all() const {
    std::vector<std::uint64_t> b(kBuckets, 0);
    std::uint64_t sum = 0, mn = kNoMin, mx = 0;
    for (std::size_t k = 0; k < kLatencyCount; ++k) {
        for (std::size_t i = 0; i < kShards; ++i) {
            for (std::size_t j = 0; j < kBuckets; ++j)
                b[j] += load_relaxed(shards_[i].buckets[k][j]);
            sum += load_relaxed(shards_[i].sum_ns[k]);
        }
        mn = std::min(mn, min_ns_[k].load());
        mx = std::max(mx, max_ns_[k].load());
    }
    return summarize(b, sum, mn, mx);
}

DsmStats::PageRecord DsmStats::page(std::uint64_t page) const {
    PageRecord r;
    r.page = page;
    if (const auto* p = cell_if(page)) {
        r.read_faults = load_relaxed(p->read_faults);
        r.write_faults = load_relaxed(p->write_faults);
        r.invalidations = load_relaxed(p->invalidations);
        r.bytes_sent = load_relaxed(p->bytes_sent);
        const std::uint32_t w = load_relaxed(p->last_writer_plus1);
        r.last_writer = w == 0 ? kNoNode : w - 1;
    }
    return r;
}

std::vector<DsmStats::PageRecord> DsmStats::top_pages(std::size_t k) const {
    std::vector<PageRecord> all;
    if (k == 0) return all;
    for (std::size_t c = 0; c < chunk_count_; ++c) {
        if (chunks_[c].load(std::memory_order_acquire) == nullptr) continue;
        std::uint64_t first = c * kChunkPages;
        std::uint64_t last = std::min<std::uint64_t>(first + kChunkPages, page_count_);
        for (std::uint64_t pg = first; pg < last; ++pg) {
            PageRecord r = page(pg);
            if (r.score() > 0) all.push_back(r);
        }
    }
    auto better = [](const PageRecord& a, const PageRecord& b) {
        if (a.score() != b.score()) return a.score() > b.score();
        return a.page < b.page;
    };
    std::size_t n = std::min(k, all.size());
    std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n), all.end(), better);
    all.resize(n);
    return all;
}

DsmStats::Snapshot DsmStats::snapshot(std::size_t top_k) const {
    Snapshot s;
    s.node = node_id_;
    s.label = node_label_;
    s.page_count = page_count_;
    for (std::size_t i = 0; i < kCounterCount; ++i) s.counters[i] = get(static_cast<Counter>(i));
    for (std::size_t k = 0; k < kLatencyCount; ++k) s.latency[k] = latency(static_cast<Latency>(k));
    s.latency_all = latency_all();
    s.top_k = top_k;
    s.hot_pages = top_pages(top_k);
    return s;
}

}  // namespace spanvm::dsm
